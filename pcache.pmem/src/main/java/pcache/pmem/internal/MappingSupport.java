package pcache.pmem.internal;

import java.lang.reflect.Field;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.util.Optional;

/**
 * The two JDK extras a mapped cache device uses, each optional: the synchronous map mode of
 * JEP 352 ({@code jdk.nio.mapmode}) and deterministic unmapping ({@code sun.misc.Unsafe}).
 *
 * <p>Both packages are referenced directly, so bnd imports them; the bundle marks the imports
 * optional. Inside OSGi they resolve only when the framework exports them
 * ({@code org.osgi.framework.system.packages.extra=sun.misc,jdk.nio.mapmode}); without them the
 * class references fail with a {@link LinkageError}, caught here: the mapping then uses
 * {@code READ_WRITE} and is released by the garbage collector.
 */
final class MappingSupport {

    private MappingSupport() {
    }

    /** {@code ExtendedMapMode.READ_WRITE_SYNC} where the JDK module is reachable. */
    static Optional<FileChannel.MapMode> readWriteSync() {
        try {
            return Optional.of(jdk.nio.mapmode.ExtendedMapMode.READ_WRITE_SYNC);
        } catch (LinkageError unavailable) {
            return Optional.empty();
        }
    }

    /** An unmapper, or empty when {@code sun.misc.Unsafe} cannot be reached. */
    static Optional<Unmapper> unmapper() {
        try {
            Field field = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
            field.setAccessible(true);
            sun.misc.Unsafe unsafe = (sun.misc.Unsafe) field.get(null);
            return Optional.of(unsafe::invokeCleaner);
        } catch (LinkageError | ReflectiveOperationException | RuntimeException unavailable) {
            return Optional.empty();
        }
    }

    /** Releases a mapping now instead of when its buffer is garbage-collected. */
    @FunctionalInterface
    interface Unmapper {
        /** Unmaps {@code buffer}, which must be the buffer {@code map} returned (no slice). */
        void unmap(MappedByteBuffer buffer);
    }
}
