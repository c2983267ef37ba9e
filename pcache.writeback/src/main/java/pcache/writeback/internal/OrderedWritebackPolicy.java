package pcache.writeback.internal;

import java.io.IOException;
import java.util.List;

import org.osgi.service.component.annotations.Component;

import pcache.api.spi.CacheKey;
import pcache.api.spi.KeyIndex;
import pcache.api.spi.Kset;
import pcache.api.spi.WritebackContext;
import pcache.api.spi.WritebackOutcome;
import pcache.api.spi.WritebackPolicy;

/**
 * dm-pcache's write-back (reference §5): one kset per step, in log order, from dirty_tail. The
 * kset's keys are resolved against each other (newest wins), every non-CLEAN extent is written
 * (in offset order, adjacent extents as one write: {@link DirtyRuns}), the backing device is
 * flushed, and only then dirty_tail moves past the kset. The backing device therefore sees the history of ksets in log order with a flush barrier after each: everything
 * written before a client's flush reaches it before anything written after that flush, so the
 * backing device is crash-consistent at every kset boundary.
 */
@Component(service = WritebackPolicy.class,
        property = WritebackPolicy.NAME + "=" + OrderedWritebackPolicy.NAME_VALUE)
public final class OrderedWritebackPolicy implements WritebackPolicy {

    static final String NAME_VALUE = "ordered";

    @Override
    public String name() {
        return NAME_VALUE;
    }

    @Override
    public WritebackOutcome step(WritebackContext context) throws IOException {
        Kset kset = context.readKset(context.dirtyTail());
        if (kset == null) {
            return WritebackOutcome.IDLE;
        }
        if (!kset.last()) {
            KeyIndex scratch = context.scratchIndex();
            for (CacheKey key : kset.keys()) {
                var slice = scratch.slice(key.offset());
                slice.lock();
                try {
                    // a copy: overlap fix-up cuts keys in place, and the kset's keys must stay as
                    // logged (dirty_tail accounting and in-memory clean marking read them)
                    slice.insert(key.copy(), pcache.api.spi.KeyValidity.ALL);
                } finally {
                    slice.unlock();
                }
            }
            boolean wrote = DirtyRuns.write(context, scratch) > 0;
            if (wrote) {
                context.flushBacking();
            }
        }
        context.advanceDirtyTail(List.of(kset));
        return WritebackOutcome.PROGRESS;
    }
}
