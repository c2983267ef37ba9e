package pcache.segment.internal;

import org.osgi.service.component.annotations.Component;

import pcache.api.spi.SegmentAllocator;
import pcache.api.spi.SegmentAllocatorProvider;
import pcache.api.spi.SegmentContext;

/** Registers dm-pcache's FIFO segment allocator as {@code pcache.allocator.name=fifo}. */
@Component(service = SegmentAllocatorProvider.class,
        property = SegmentAllocatorProvider.NAME + "=" + FifoSegmentAllocatorProvider.NAME_VALUE)
public final class FifoSegmentAllocatorProvider implements SegmentAllocatorProvider {

    static final String NAME_VALUE = "fifo";

    @Override
    public String name() {
        return NAME_VALUE;
    }

    @Override
    public SegmentAllocator create(SegmentContext context) {
        return new FifoSegmentAllocator(context);
    }
}
