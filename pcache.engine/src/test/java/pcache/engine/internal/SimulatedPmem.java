package pcache.engine.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import pcache.api.spi.PmemRegion;

/**
 * A sparse, in-memory pmem region for tests that can forget: it remembers, per 4 KiB page, the
 * durable content of every 8-byte word stored since the word was last made durable (flushed by a
 * thread that then fenced). At a simulated crash each such word independently keeps its new value
 * or reverts to the durable one: stores are torn at 8-byte granularity, in any order, as the
 * reference's persistence model allows. Only pending pages are copied, never the whole device, so
 * thousands of crash points stay cheap.
 *
 * <p>{@link #armCrash} makes the N-th mutating operation (store, fill, flush, fence) crash the
 * device: the crash image is taken at that instant and every later call throws
 * {@link SimulatedCrash}.
 */
final class SimulatedPmem implements PmemRegion {

    static final int PAGE = 4096;
    private static final int WORDS = PAGE / 8;

    /** Thrown by every operation once the device has crashed. */
    static final class SimulatedCrash extends IOException {
        private static final long serialVersionUID = 1L;

        SimulatedCrash() {
            super("simulated power failure");
        }
    }

    private static final class Pending {
        final byte[] durable;
        final long[] dirty = new long[WORDS / 64];

        Pending(byte[] durable) {
            this.durable = durable;
        }

        boolean clean() {
            for (long w : dirty) {
                if (w != 0) {
                    return false;
                }
            }
            return true;
        }
    }

    private final long size;
    private final byte[][] pages;
    private final Pending[] pending;
    private int pendingCount;
    private final ThreadLocal<List<long[]>> flushedNotFenced = ThreadLocal.withInitial(ArrayList::new);
    private final boolean tracking;
    private boolean closed;
    private long opsUntilCrash = -1;
    private CrashPoints crashPoints = CrashPoints.EVERY;
    private Random crashRandom;
    private byte[][] crashImage;
    private boolean crashed;
    private long mutations;

    SimulatedPmem(long size, boolean tracking) {
        this(size, new byte[(int) ((size + PAGE - 1) / PAGE)][], tracking);
    }

    private SimulatedPmem(long size, byte[][] pages, boolean tracking) {
        this.size = size;
        this.pages = pages;
        this.pending = new Pending[pages.length];
        this.tracking = tracking;
    }

    /** A device holding {@code size} bytes read from {@code in} (all-zero pages stay sparse). */
    static SimulatedPmem load(long size, java.io.InputStream in, boolean tracking) throws IOException {
        SimulatedPmem p = new SimulatedPmem(size, tracking);
        byte[] buf = new byte[PAGE];
        for (int page = 0; (long) page * PAGE < size; page++) {
            int n = in.readNBytes(buf, 0, PAGE);
            if (n <= 0) {
                break;
            }
            for (int i = 0; i < n; i++) {
                if (buf[i] != 0) {
                    p.pages[page] = java.util.Arrays.copyOf(buf, PAGE);
                    break;
                }
            }
            if (n < PAGE) {
                break;
            }
        }
        return p;
    }

    /** The same memory opened again after a clean close (no power loss). */
    synchronized SimulatedPmem reopen() {
        closed = true;
        return new SimulatedPmem(size, pages, tracking);
    }

    /** The device after the crash: only what was durable, plus a random subset of pending words. */
    synchronized SimulatedPmem afterCrash(boolean trackingAgain) {
        if (!crashed) {
            crashImage = image(crashRandom == null ? new Random(1) : crashRandom);
            crashed = true;
        }
        return new SimulatedPmem(size, crashImage, trackingAgain);
    }

    /** Crashes at the {@code n}-th mutating operation from now (n >= 1). */
    synchronized void armCrash(long n, Random random) {
        armCrash(n, random, CrashPoints.EVERY);
    }

    /**
     * Crashes at the {@code n}-th mutating operation from now that {@code points} counts (n >= 1);
     * {@code points} also sees the operation the crash strikes at, in the thread that makes it.
     */
    synchronized void armCrash(long n, Random random, CrashPoints points) {
        opsUntilCrash = n;
        crashRandom = random;
        crashPoints = points;
    }

    /** Which mutating operations an armed crash counts, and where it strikes (crash-site statistics). */
    interface CrashPoints {
        /** Counts every operation and notes nothing. */
        CrashPoints EVERY = new CrashPoints() {
        };

        /** Whether the operation the calling thread is making counts towards the armed crash. */
        default boolean counts() {
            return true;
        }

        /** The armed crash strikes at the operation the calling thread is making. */
        default void strikes() {
        }
    }

    /**
     * Disarms a pending crash, atomically with respect to every operation: true when the device had
     * not crashed (no operation can crash it from now on), false when the crash had already struck
     * (in any thread, possibly a background one) before it could be disarmed.
     */
    synchronized boolean disarm() {
        opsUntilCrash = -1;
        return !crashed;
    }

    /** Crashes now. */
    synchronized void crashNow(Random random) {
        crashRandom = random;
        crashImage = image(random);
        crashed = true;
    }

    synchronized boolean crashed() {
        return crashed;
    }

    synchronized long mutations() {
        return mutations;
    }

    private byte[][] image(Random random) {
        byte[][] img = new byte[pages.length][];
        for (int i = 0; i < pages.length; i++) {
            if (pages[i] != null) {
                img[i] = pages[i].clone();
            }
        }
        for (int i = 0; i < pending.length && pendingCount > 0; i++) {
            Pending p = pending[i];
            if (p == null) {
                continue;
            }
            if (img[i] == null) {
                img[i] = new byte[PAGE];
            }
            byte[] page = img[i];
            for (int w = 0; w < WORDS; w++) {
                if ((p.dirty[w >>> 6] & (1L << w)) != 0 && random.nextBoolean()) {
                    System.arraycopy(p.durable, w * 8, page, w * 8, 8);
                }
            }
        }
        return img;
    }

    private void check(long off, long len) throws IOException {
        if (crashed) {
            throw new SimulatedCrash();
        }
        if (closed) {
            throw new IOException("simulated pmem closed");
        }
        if (off < 0 || len < 0 || off + len > size) {
            throw new IndexOutOfBoundsException("[" + off + ", +" + len + ") outside " + size);
        }
    }

    private void mutation() throws SimulatedCrash {
        mutations++;
        if (opsUntilCrash > 0 && crashPoints.counts() && --opsUntilCrash == 0) {
            crashPoints.strikes();
            crashImage = image(crashRandom);
            crashed = true;
            throw new SimulatedCrash();
        }
    }

    /** Records the durable content of the words of {@code [off, off + len)} before they change. */
    private void track(long off, long len) {
        if (!tracking) {
            return;
        }
        long end = off + len;
        for (long p = off / PAGE; p * PAGE < end; p++) {
            Pending pend = pending[(int) p];
            if (pend == null) {
                byte[] cur = pages[(int) p];
                pend = new Pending(cur == null ? new byte[PAGE] : cur.clone());
                pending[(int) p] = pend;
                pendingCount++;
            }
            long from = Math.max(off, p * PAGE) - p * PAGE;
            long to = Math.min(end, (p + 1) * PAGE) - p * PAGE;
            for (long w = from / 8; w * 8 < to; w++) {
                pend.dirty[(int) (w >>> 6)] |= 1L << w;
            }
        }
    }

    private byte[] page(long p, boolean create) {
        byte[] b = pages[(int) p];
        if (b == null && create) {
            b = new byte[PAGE];
            pages[(int) p] = b;
        }
        return b;
    }

    @Override
    public long sizeBytes() {
        return size;
    }

    @Override
    public String description() {
        return "simulated pmem (" + size + " bytes)";
    }

    @Override
    public boolean isDirectAccess() {
        return true;
    }

    @Override
    public synchronized void read(long offset, ByteBuffer dst) throws IOException {
        int len = dst.remaining();
        check(offset, len);
        long pos = offset;
        while (dst.hasRemaining()) {
            long p = pos / PAGE;
            int in = (int) (pos % PAGE);
            int n = Math.min(dst.remaining(), PAGE - in);
            byte[] b = pages[(int) p];
            if (b == null) {
                for (int i = 0; i < n; i++) {
                    dst.put((byte) 0);
                }
            } else {
                dst.put(b, in, n);
            }
            pos += n;
        }
    }

    @Override
    public void read(long offset, byte[] dst, int dstOffset, int length) throws IOException {
        read(offset, ByteBuffer.wrap(dst, dstOffset, length));
    }

    @Override
    public synchronized void write(long offset, ByteBuffer src) throws IOException {
        int len = src.remaining();
        check(offset, len);
        mutation();
        track(offset, len);
        long pos = offset;
        while (src.hasRemaining()) {
            long p = pos / PAGE;
            int in = (int) (pos % PAGE);
            int n = Math.min(src.remaining(), PAGE - in);
            src.get(page(p, true), in, n);
            pos += n;
        }
    }

    @Override
    public void write(long offset, byte[] src, int srcOffset, int length) throws IOException {
        write(offset, ByteBuffer.wrap(src, srcOffset, length));
    }

    @Override
    public synchronized void fill(long offset, long length, byte value) throws IOException {
        check(offset, length);
        mutation();
        long end = offset + length;
        for (long p = offset / PAGE; p * PAGE < end; p++) {
            byte[] b = pages[(int) p];
            if (b == null && value == 0) {
                continue; // already zero: nothing changes, nothing to track
            }
            long from = Math.max(offset, p * PAGE);
            long to = Math.min(end, (p + 1) * PAGE);
            track(from, to - from);
            b = page(p, true);
            java.util.Arrays.fill(b, (int) (from - p * PAGE), (int) (to - p * PAGE), value);
        }
    }

    @Override
    public synchronized long getLong(long offset) throws IOException {
        byte[] b = new byte[8];
        read(offset, b, 0, 8);
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    @Override
    public synchronized void putLong(long offset, long value) throws IOException {
        byte[] b = new byte[8];
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(value);
        write(offset, b, 0, 8);
    }

    @Override
    public synchronized ByteBuffer view(long offset, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        read(offset, b);
        b.flip();
        return b.asReadOnlyBuffer();
    }

    @Override
    public synchronized void flush(long offset, long length) throws IOException {
        check(offset, length);
        mutation();
        if (tracking) {
            flushedNotFenced.get().add(new long[] {offset, length});
        }
    }

    @Override
    public synchronized void fence() throws IOException {
        check(0, 0);
        mutation();
        if (!tracking) {
            return;
        }
        List<long[]> ranges = flushedNotFenced.get();
        for (long[] r : ranges) {
            commit(r[0], r[1]);
        }
        ranges.clear();
    }

    /** Makes the words of {@code [off, off + len)} durable. */
    private void commit(long off, long len) {
        long end = off + len;
        for (long p = off / PAGE; p * PAGE < end && pendingCount > 0; p++) {
            Pending pend = pending[(int) p];
            if (pend == null) {
                continue;
            }
            long from = Math.max(off, p * PAGE) - p * PAGE;
            long to = Math.min(end, (p + 1) * PAGE) - p * PAGE;
            for (long w = from / 8; w * 8 < to; w++) {
                pend.dirty[(int) (w >>> 6)] &= ~(1L << w);
            }
            if (pend.clean()) {
                pending[(int) p] = null;
                pendingCount--;
            }
        }
    }

    /** Number of pages with words that are not durable yet. */
    synchronized int pendingPages() {
        return pendingCount;
    }

    /** Corrupts (XORs) one byte, bypassing persistence tracking: simulated media damage. */
    synchronized void corrupt(long offset, int xor) {
        byte[] b = page(offset / PAGE, true);
        b[(int) (offset % PAGE)] ^= (byte) xor;
    }

    @Override
    public synchronized void close() {
        closed = true;
    }
}
