package pcache.api.spi;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * Receives the pieces of a logical range in ascending order during a {@link KeySlice#walk walk}:
 * parts covered by a key (valid data or a placeholder) and gaps no key covers. Together the pieces
 * cover the walked range exactly. Called with the slice lock held; must not call back into the
 * slice.
 */
@ConsumerType
public interface ExtentVisitor {

    /**
     * {@code [position, position + length)} is covered by {@code key}; the data of
     * {@code position} lies {@code position - key.offset()} bytes into the key.
     *
     * @return false to stop the walk
     */
    boolean hit(CacheKey key, long position, int length);

    /**
     * {@code [position, position + length)} is not cached.
     *
     * @return false to stop the walk
     */
    boolean gap(long position, int length);
}
