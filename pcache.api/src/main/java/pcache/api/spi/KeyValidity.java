package pcache.api.spi;

import org.osgi.annotation.versioning.ConsumerType;

/** Decides whether a non-EMPTY key still points at live data (its generation is current). */
@ConsumerType
@FunctionalInterface
public interface KeyValidity {

    /** Every key is valid (for scratch indexes). */
    KeyValidity ALL = key -> true;

    /** False when the key's segment was reclaimed after the key was written. */
    boolean isValid(CacheKey key);
}
