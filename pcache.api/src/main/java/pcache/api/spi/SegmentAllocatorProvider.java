package pcache.api.spi;

import java.io.IOException;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * Creates the segment layer of one cache: the segment chain, per-segment generations, the
 * allocation bitmap, reference counts and reclamation (reference §2.5, §6.3). Registered as a
 * service with the property {@link #NAME}.
 */
@ConsumerType
public interface SegmentAllocatorProvider {

    /** Service property: the allocator's name, e.g. {@code fifo}. */
    String NAME = "pcache.allocator.name";

    /** The value of {@link #NAME}. */
    String name();

    /** A new allocator over the context's cache device; call format or load on it next. */
    SegmentAllocator create(SegmentContext context) throws IOException;
}
