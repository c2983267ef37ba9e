package pcache.api.spi;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * Creates the key structures of one cache: its {@link KeyIndex} (and scratch indexes) and its
 * {@link KeyLog}. Registered as a service with the property {@link #NAME}.
 */
@ConsumerType
public interface KeyIndexProvider {

    /** Service property: the implementation's name, e.g. {@code striped}. */
    String NAME = "pcache.keyindex.name";

    /** The value of {@link #NAME}. */
    String name();

    /** An empty index for a logical device of {@code logicalSizeBytes}. */
    KeyIndex createIndex(long logicalSizeBytes);

    /** A key log over the context's device; call {@link KeyLog#start} before appending. */
    KeyLog openLog(KeyLogContext context);
}
