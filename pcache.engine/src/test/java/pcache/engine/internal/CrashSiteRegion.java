package pcache.engine.internal;

import java.io.IOException;
import java.nio.ByteBuffer;

import pcache.api.spi.PmemRegion;

/**
 * A {@link SimulatedPmem} seen through a region that remembers where its armed crash struck: which
 * thread, doing what (a client thread names its request with {@link #doing}; the engine's threads
 * are known by their names), in which kind of operation (store, fill, flush, fence). Mutating
 * operations pass one at a time, so the one that finds the device intact and leaves it crashed is
 * exactly the one the crash struck.
 */
final class CrashSiteRegion implements PmemRegion {

    private interface Mutation {
        void run() throws IOException;
    }

    private final SimulatedPmem pmem;
    private final Object mutating = new Object();
    private final ThreadLocal<String> doing = new ThreadLocal<>();
    private volatile String site;

    CrashSiteRegion(SimulatedPmem pmem) {
        this.pmem = pmem;
    }

    /** What the calling client thread does from now on (a label for {@link #site}). */
    void doing(String what) {
        doing.set(what);
    }

    /** Who was doing what in the operation the armed crash struck; null until it has struck. */
    String site() {
        return site;
    }

    private String who() {
        String d = doing.get();
        if (d != null) {
            return d;
        }
        String name = Thread.currentThread().getName();
        if (name.endsWith("-writeback")) {
            return "write-back thread";
        }
        if (name.endsWith("-gc")) {
            return "GC thread";
        }
        if (name.endsWith("-timer")) {
            return "timer thread (delayed kset flush)";
        }
        return "thread " + name;
    }

    private void mutate(String kind, Mutation m) throws IOException {
        synchronized (mutating) {
            boolean intact = !pmem.crashed();
            try {
                m.run();
            } catch (SimulatedPmem.SimulatedCrash c) {
                if (intact) {
                    site = who() + ": " + kind;
                }
                throw c;
            }
        }
    }

    @Override
    public long sizeBytes() {
        return pmem.sizeBytes();
    }

    @Override
    public String description() {
        return pmem.description();
    }

    @Override
    public boolean isDirectAccess() {
        return pmem.isDirectAccess();
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        pmem.read(offset, dst);
    }

    @Override
    public void read(long offset, byte[] dst, int dstOffset, int length) throws IOException {
        pmem.read(offset, dst, dstOffset, length);
    }

    @Override
    public long getLong(long offset) throws IOException {
        return pmem.getLong(offset);
    }

    @Override
    public ByteBuffer view(long offset, int length) throws IOException {
        return pmem.view(offset, length);
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        mutate("store", () -> pmem.write(offset, src));
    }

    @Override
    public void write(long offset, byte[] src, int srcOffset, int length) throws IOException {
        mutate("store", () -> pmem.write(offset, src, srcOffset, length));
    }

    @Override
    public void putLong(long offset, long value) throws IOException {
        mutate("store", () -> pmem.putLong(offset, value));
    }

    @Override
    public void fill(long offset, long length, byte value) throws IOException {
        mutate("fill", () -> pmem.fill(offset, length, value));
    }

    @Override
    public void flush(long offset, long length) throws IOException {
        mutate("flush", () -> pmem.flush(offset, length));
    }

    @Override
    public void fence() throws IOException {
        mutate("fence", pmem::fence);
    }

    @Override
    public void close() throws IOException {
        pmem.close();
    }
}
