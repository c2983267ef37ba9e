package pcache.engine.internal;

import java.io.IOException;
import java.util.List;

import pcache.api.CachePos;
import pcache.api.spi.CacheKey;
import pcache.api.spi.KeyIndex;
import pcache.api.spi.Kset;
import pcache.api.spi.WritebackContext;

/** A write-back context that hands every call to {@code context}: tests override what they watch or change. */
class ForwardingWritebackContext implements WritebackContext {

    private final WritebackContext context;

    ForwardingWritebackContext(WritebackContext context) {
        this.context = context;
    }

    /** The context calls go to. */
    final WritebackContext context() {
        return context;
    }

    @Override
    public CachePos dirtyTail() {
        return context.dirtyTail();
    }

    @Override
    public CachePos keyHead() {
        return context.keyHead();
    }

    @Override
    public Kset readKset(CachePos position) throws IOException {
        return context.readKset(position);
    }

    @Override
    public KeyIndex scratchIndex() {
        return context.scratchIndex();
    }

    @Override
    public void writeBack(List<CacheKey> extent) throws IOException {
        context.writeBack(extent);
    }

    @Override
    public boolean flushBarrierAfter(Kset kset) {
        return context.flushBarrierAfter(kset);
    }

    @Override
    public void flushBacking() throws IOException {
        context.flushBacking();
    }

    @Override
    public void advanceDirtyTail(List<Kset> passed) throws IOException {
        context.advanceDirtyTail(passed);
    }

    @Override
    public long dirtyBytes() {
        return context.dirtyBytes();
    }

    @Override
    public int usedPercent() {
        return context.usedPercent();
    }

    @Override
    public long capacityBytes() {
        return context.capacityBytes();
    }

    @Override
    public boolean draining() {
        return context.draining();
    }

    @Override
    public boolean spaceWanted() {
        return context.spaceWanted();
    }
}
