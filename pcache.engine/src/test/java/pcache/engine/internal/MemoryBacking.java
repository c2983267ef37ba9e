package pcache.engine.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import pcache.api.BackingDeviceException;
import pcache.api.BlockDevice;
import pcache.api.DeviceClosedException;
import pcache.api.spi.BackingDevice;
import pcache.api.spi.BackingIdentity;

/**
 * A sparse in-memory backing device for tests. Optionally forgetful: writes since the last flush
 * may be lost at a simulated crash, per 512-byte sector. Faults can be injected.
 */
final class MemoryBacking implements BackingDevice {

    private static final int SECTOR = 512;

    private final long size;
    private final String id;
    private static final int PAGE = 4096;
    /** Content in 4 KiB pages (null = zero). */
    private final byte[][] pages;
    /** Per page: its content at the last flush, while it has unflushed writes (forgetful only). */
    private final byte[][] unflushedOld;
    private final boolean[] unflushed;
    private final java.util.List<Integer> unflushedPages = new java.util.ArrayList<>();
    private final boolean forgetful;
    final AtomicInteger failWrites = new AtomicInteger();
    final AtomicInteger failFlushes = new AtomicInteger();
    final AtomicInteger failReads = new AtomicInteger();
    final AtomicLong writes = new AtomicLong();
    /** Told of every write (offset, a copy of the bytes) and flush as they come; may be null. */
    volatile java.util.function.BiConsumer<Long, byte[]> onWrite;
    volatile Runnable onFlush;
    /**
     * With {@link #failFlushes}: an injected flush failure loses every write since the last flush
     * (forgetful devices), and the next flush succeeds, as a file whose page cache write-out failed
     * (the error reaches one data sync) or an NBD server that restarted; so does an injected failure
     * of a FUA write ({@link #failWrites}), whose data sync took the error.
     */
    volatile boolean failedFlushLosesWrites;
    /** Every write as {offset, length}, in the order they came. */
    final java.util.List<long[]> writeLog = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
    /** Every trim: {offset, length}, in the order they came. */
    final java.util.List<long[]> trimLog = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
    /** Told of every trim as it comes (before it changes anything); may be null. */
    volatile Runnable onTrim;
    /** Every write-zeroes: {offset, length}. */
    final java.util.List<long[]> zeroLog = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
    /** {@link System#nanoTime()} of the first write, 0 until there is one. */
    final AtomicLong firstWriteNanos = new AtomicLong();
    final AtomicLong lastWriteNanos = new AtomicLong();
    final AtomicLong flushes = new AtomicLong();
    final AtomicLong reads = new AtomicLong();
    private volatile boolean closed;

    MemoryBacking(long size, String id, boolean forgetful) {
        this(size, id, new byte[(int) (size / PAGE)][], forgetful);
    }

    private MemoryBacking(long size, String id, byte[][] pages, boolean forgetful) {
        this.size = size;
        this.id = id;
        this.pages = pages;
        this.forgetful = forgetful;
        this.unflushedOld = new byte[pages.length][];
        this.unflushed = new boolean[pages.length];
    }

    /** A device holding {@code size} bytes read from {@code in}. */
    static MemoryBacking load(long size, String id, java.io.InputStream in) throws IOException {
        MemoryBacking b = new MemoryBacking(size, id, false);
        byte[] buf = new byte[PAGE];
        for (int page = 0; (long) page * PAGE < size; page++) {
            int n = in.readNBytes(buf, 0, PAGE);
            for (int i = 0; i < n; i++) {
                if (buf[i] != 0) {
                    b.pages[page] = java.util.Arrays.copyOf(buf, PAGE);
                    break;
                }
            }
            if (n < PAGE) {
                break;
            }
        }
        return b;
    }

    /** A device of {@code size} bytes all {@code value}, flushed, its write log empty. */
    static MemoryBacking filled(long size, String id, byte value) throws IOException {
        MemoryBacking b = new MemoryBacking(size, id, false);
        byte[] chunk = new byte[1 << 20];
        java.util.Arrays.fill(chunk, value);
        for (long off = 0; off < size; off += chunk.length) {
            b.write(off, ByteBuffer.wrap(chunk, 0, (int) Math.min(chunk.length, size - off)), false);
        }
        b.flush();
        b.writeLog.clear();
        return b;
    }

    /** The device after a power loss: unflushed sectors randomly kept or lost. */
    synchronized MemoryBacking afterCrash(Random random) {
        byte[][] img = new byte[pages.length][];
        for (int i = 0; i < pages.length; i++) {
            if (pages[i] != null) {
                img[i] = pages[i].clone();
            }
        }
        // each unflushed sector independently kept or lost
        for (int p : unflushedPages) {
            byte[] old = unflushedOld[p];
            for (int s = 0; s < PAGE / SECTOR; s++) {
                if (random.nextBoolean()) {
                    if (img[p] == null) {
                        img[p] = new byte[PAGE];
                    }
                    if (old == null) {
                        java.util.Arrays.fill(img[p], s * SECTOR, (s + 1) * SECTOR, (byte) 0);
                    } else {
                        System.arraycopy(old, s * SECTOR, img[p], s * SECTOR, SECTOR);
                    }
                }
            }
        }
        return new MemoryBacking(size, id, img, forgetful);
    }

    /** Before page {@code p} changes: remember its flushed content (forgetful devices). */
    private void beforeChange(int p, boolean fua) {
        if (forgetful && !fua && !unflushed[p]) {
            unflushed[p] = true;
            unflushedOld[p] = pages[p] == null ? null : pages[p].clone();
            unflushedPages.add(p);
        }
    }

    /** The same content under another identity (a different disk with the same bytes). */
    synchronized MemoryBacking withIdentity(String otherId) {
        return new MemoryBacking(size, otherId, pages, forgetful);
    }

    void close() {
        closed = true;
    }

    @Override
    public long sizeBytes() {
        return size;
    }

    @Override
    public BackingIdentity identity() {
        return new BackingIdentity(size, id);
    }

    @Override
    public String description() {
        return "memory:" + id;
    }

    /** Told of every block-status question before it is answered, outside the device's lock; may be null. */
    volatile Runnable onBlockStatus;

    /** Pages never written (null) are holes reading as zeroes; the rest is data. */
    @Override
    public java.util.List<pcache.api.BlockExtent> blockStatus(long offset, long length, int maxExtents)
            throws IOException {
        Runnable hook = onBlockStatus;
        if (hook != null) {
            hook.run();
        }
        return answerBlockStatus(offset, length, maxExtents);
    }

    private synchronized java.util.List<pcache.api.BlockExtent> answerBlockStatus(long offset, long length,
            int maxExtents) throws IOException {
        check(offset, length);
        java.util.List<pcache.api.BlockExtent> out = new java.util.ArrayList<>();
        long pos = offset;
        long end = offset + length;
        while (pos < end && out.size() < Math.max(1, maxExtents)) {
            int flags = pages[(int) (pos / PAGE)] == null ? pcache.api.BlockExtent.HOLE | pcache.api.BlockExtent.ZERO : 0;
            long runEnd = pos;
            while (runEnd < end && (pages[(int) (runEnd / PAGE)] == null) == (flags != 0)) {
                runEnd = Math.min(end, (runEnd / PAGE + 1) * PAGE);
            }
            out.add(new pcache.api.BlockExtent(pos, runEnd - pos, flags));
            pos = runEnd;
        }
        return out;
    }

    private void check(long off, long len) throws IOException {
        if (closed) {
            throw new DeviceClosedException("memory backing " + id + " closed");
        }
        BlockDevice.checkRange(description(), size, SECTOR, off, len);
    }

    private static boolean take(AtomicInteger counter) {
        return counter.getAndUpdate(n -> n > 0 ? n - 1 : n) > 0;
    }

    @Override
    public synchronized void read(long offset, ByteBuffer dst) throws IOException {
        check(offset, dst.remaining());
        reads.incrementAndGet();
        if (take(failReads)) {
            throw new BackingDeviceException("injected read failure at " + offset);
        }
        long pos = offset;
        while (dst.hasRemaining()) {
            int p = (int) (pos / PAGE);
            int in = (int) (pos % PAGE);
            int n = Math.min(dst.remaining(), PAGE - in);
            if (pages[p] == null) {
                dst.position(dst.position() + n);
                for (int i = dst.position() - n; i < dst.position(); i++) {
                    dst.put(i, (byte) 0);
                }
            } else {
                dst.put(pages[p], in, n);
            }
            pos += n;
        }
    }

    @Override
    public synchronized void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        check(offset, src.remaining());
        writes.incrementAndGet();
        writeLog.add(new long[] {offset, src.remaining()});
        java.util.function.BiConsumer<Long, byte[]> w = onWrite;
        if (w != null) {
            byte[] copy = new byte[src.remaining()];
            src.duplicate().get(copy);
            w.accept(offset, copy);
        }
        firstWriteNanos.compareAndSet(0, System.nanoTime());
        lastWriteNanos.set(System.nanoTime());
        if (take(failWrites)) {
            if (fua && failedFlushLosesWrites) {
                loseUnflushed(); // a FUA write's own data sync failed, and took the report of them
            }
            throw new BackingDeviceException("injected write failure at " + offset);
        }
        long pos = offset;
        while (src.hasRemaining()) {
            int p = (int) (pos / PAGE);
            int in = (int) (pos % PAGE);
            int n = Math.min(src.remaining(), PAGE - in);
            beforeChange(p, fua);
            if (pages[p] == null) {
                pages[p] = new byte[PAGE];
            }
            src.get(pages[p], in, n);
            if (fua && unflushed[p]) {
                // FUA: these sectors are durable now, whatever happens to the rest of the page
                if (unflushedOld[p] == null) {
                    unflushedOld[p] = new byte[PAGE];
                }
                System.arraycopy(pages[p], in, unflushedOld[p], in, n);
            }
            pos += n;
        }
    }

    @Override
    public synchronized void flush() throws IOException {
        if (closed) {
            throw new DeviceClosedException("memory backing " + id + " closed");
        }
        flushes.incrementAndGet();
        Runnable f = onFlush;
        if (f != null) {
            f.run();
        }
        if (take(failFlushes)) {
            if (failedFlushLosesWrites) {
                loseUnflushed();
            }
            throw new BackingDeviceException("injected flush failure");
        }
        for (int p : unflushedPages) {
            unflushed[p] = false;
            unflushedOld[p] = null;
        }
        unflushedPages.clear();
    }

    /**
     * Discards like a thin-provisioned disk: whole pages become holes, the rest of the range zeroes
     * (a flush makes it durable, as a write).
     */
    @Override
    public synchronized void trim(long offset, long length) throws IOException {
        check(offset, length);
        trimLog.add(new long[] {offset, length});
        Runnable t = onTrim;
        if (t != null) {
            t.run();
        }
        zeroRange(offset, length, false, true);
    }

    @Override
    public synchronized void writeZeroes(long offset, long length, boolean fua) throws IOException {
        check(offset, length);
        zeroLog.add(new long[] {offset, length});
        zeroRange(offset, length, fua, false);
    }

    /** Every write since the last flush is gone, as after a failed write-out (lock held). */
    private void loseUnflushed() {
        for (int p : unflushedPages) {
            pages[p] = unflushedOld[p];
            unflushed[p] = false;
            unflushedOld[p] = null;
        }
        unflushedPages.clear();
    }

    /** Zeroes a range (lock held); with {@code freePages}, whole pages become holes. */
    private void zeroRange(long offset, long length, boolean fua, boolean freePages) {
        for (long pos = offset; pos < offset + length;) {
            int p = (int) (pos / PAGE);
            int in = (int) (pos % PAGE);
            int n = (int) Math.min(offset + length - pos, PAGE - in);
            if (pages[p] != null) {
                beforeChange(p, fua);
                if (freePages && n == PAGE) {
                    pages[p] = null;
                } else {
                    java.util.Arrays.fill(pages[p], in, in + n, (byte) 0);
                }
            }
            pos += n;
        }
    }

    /** Direct content access for assertions. */
    synchronized byte[] content(long offset, int length) {
        byte[] out = new byte[length];
        for (int i = 0; i < length; i += SECTOR) {
            long pos = offset + i;
            byte[] b = pages[(int) (pos / PAGE)];
            if (b != null) {
                System.arraycopy(b, (int) (pos % PAGE), out, i, SECTOR);
            }
        }
        return out;
    }
}
