package pcache.engine.internal;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;
import java.util.SplittableRandom;

import pcache.api.spi.PmemRegion;

/**
 * A sparse, in-memory pmem region for tests that can forget what a power cut may forget, and
 * nothing else.
 *
 * <p><b>What a crash produces.</b> The device is a sequence of 8-byte words. Each word has a
 * <em>committed</em> value: the value it had when a thread last flushed a range containing it and
 * that same thread then fenced (its value <em>at the flush</em>: a store made after the flush is
 * not committed by the fence, even if it came before it). A word stored since its committed value
 * is <em>pending</em>; at a crash each pending word independently becomes its committed value or
 * one of the values it held since then — the latest or any earlier one, since a cache line can be
 * written back by eviction at any moment — each with the same probability. Stores are therefore
 * torn at 8-byte granularity, in any order, and nothing else can appear: a word never reverts to a
 * value it held only before its commit, and never shows a value it did not hold (a store of part
 * of a word yields the whole word as it was after that store). A store that leaves a word as it was
 * changes nothing. {@link #fill} is a store. A fence commits only the flushes of its own thread (an
 * x86 {@code sfence} orders only the issuing thread's {@code clwb}), as {@link PmemRegion}
 * specifies; a flush without a fence by its thread commits nothing.
 *
 * <p><b>Cost.</b> Only pages with pending words carry state: their committed values and, for a word
 * that changed more than once since its commit, the values in between with the number of the store
 * that produced each. Those are kept without bound, as the engine commits what it writes before it
 * writes the same word again and the lists stay empty or short (a test that rewrites a word many
 * times without committing it pays one entry per change). A crash copies the stored pages once and
 * then rewrites only the pending words.
 *
 * <p>{@link #armCrash} makes the N-th mutating operation (store, fill, flush, fence) crash the
 * device before it takes effect: the crash image is taken at that instant and every later call
 * throws {@link SimulatedCrash}. A device made with {@code tracking} false never forgets
 * (every store is durable at once), for tests that do not cut power.
 */
final class SimulatedPmem implements PmemRegion {

    static final int PAGE = 4096;
    private static final int WORDS = PAGE / 8;
    private static final VarHandle WORD = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    /** Thrown by every operation once the device has crashed. */
    static final class SimulatedCrash extends IOException {
        private static final long serialVersionUID = 1L;

        SimulatedCrash() {
            super("simulated power failure");
        }
    }

    /**
     * A growable list of (value, store number) pairs in store order: the values a pending word held
     * before its current one, oldest first, or the words a thread flushed and has not fenced yet.
     */
    private static final class Stamped {
        long[] values;
        long[] stores;
        int count;

        Stamped(int capacity) {
            values = new long[capacity];
            stores = new long[capacity];
        }

        void add(long value, long store) {
            if (count == values.length) {
                values = Arrays.copyOf(values, count * 2);
                stores = Arrays.copyOf(stores, count * 2);
            }
            values[count] = value;
            stores[count] = store;
            count++;
        }

        /** Drops the values stored by store number {@code store} and earlier. */
        void dropUpTo(long store) {
            int dropped = 0;
            while (dropped < count && stores[dropped] <= store) {
                dropped++;
            }
            System.arraycopy(values, dropped, values, 0, count - dropped);
            System.arraycopy(stores, dropped, stores, 0, count - dropped);
            count -= dropped;
        }

        int indexOf(long store) {
            for (int i = 0; i < count; i++) {
                if (stores[i] == store) {
                    return i;
                }
            }
            return -1;
        }
    }

    /** Persistence state of one page with pending words; a word's arrays mean something only while it is pending. */
    private static final class Pending {
        final long[] dirty = new long[WORDS / 64];
        int dirtyCount;
        /** The word's committed value. */
        final long[] committed = new long[WORDS];
        /** A store number at least that of the store that produced the committed value, below every later one. */
        final long[] committedStore = new long[WORDS];
        /** The number of the store that produced the word's current value. */
        final long[] currentStore = new long[WORDS];
        /** Values held between the committed and the current one, oldest first (null while there are none). */
        final Stamped[] older = new Stamped[WORDS];

        boolean isDirty(int w) {
            return (dirty[w >>> 6] & (1L << w)) != 0;
        }

        void markDirty(int w) {
            dirty[w >>> 6] |= 1L << w;
            dirtyCount++;
        }

        void markClean(int w) {
            dirty[w >>> 6] &= ~(1L << w);
            dirtyCount--;
            older[w] = null;
        }
    }

    private final long size;
    private final byte[][] pages;
    private final Pending[] pending;
    private int pendingCount;
    /** Per thread, the words it has flushed and not fenced yet, each with the number of the store it held then. */
    private final ThreadLocal<Stamped> flushedNotFenced = ThreadLocal.withInitial(() -> new Stamped(16));
    private final long[] before = new long[WORDS];
    private long stores;
    private final boolean tracking;
    private boolean closed;
    private long opsUntilCrash = -1;
    private CrashPoints crashPoints = CrashPoints.EVERY;
    private Random crashRandom;
    private byte[][] crashImage;
    private boolean crashed;
    private long mutations;
    /** Reads meeting {offset, end} fail (simulated media errors); null when none do. */
    private long[] unreadable;
    /** Whether they fail as a mapped file's fault does (the JVM's InternalError) rather than with an IOException. */
    private boolean unreadableFaults;

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
                    p.pages[page] = Arrays.copyOf(buf, PAGE);
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
        SimulatedPmem reopened = new SimulatedPmem(size, pages, tracking);
        reopened.claimsViews = claimsViews;
        return reopened;
    }

    /** The device after the crash: committed words, and for each pending word one value it held. */
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

    /** The kinds of mutating operation; a crash strikes at one of them. */
    enum Operation {
        STORE("store"), FILL("fill"), FLUSH("flush"), FENCE("fence");

        final String label;

        Operation(String label) {
            this.label = label;
        }
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

        /** The armed crash strikes at the operation (of kind {@code op}) the calling thread is making. */
        default void strikes(Operation op) {
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
        // java.util.Random's first outputs for nearby seeds are alike (tests seed crashes with
        // seed + i): mix once, so that every seed picks independently
        SplittableRandom pick = new SplittableRandom(random.nextLong());
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
                if (!p.isDirty(w)) {
                    continue;
                }
                Stamped o = p.older[w];
                int olderCount = o == null ? 0 : o.count;
                int k = pick.nextInt(olderCount + 2); // the committed value, each older one, the current one
                if (k == 0) {
                    WORD.set(page, w * 8, p.committed[w]);
                } else if (k <= olderCount) {
                    WORD.set(page, w * 8, o.values[k - 1]);
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

    private void mutation(Operation op) throws SimulatedCrash {
        mutations++;
        if (opsUntilCrash > 0 && crashPoints.counts() && --opsUntilCrash == 0) {
            crashPoints.strikes(op);
            crashImage = image(crashRandom);
            crashed = true;
            throw new SimulatedCrash();
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

    /** Remembers the values of the words of page {@code p} that bytes {@code [from, to)} of it are about to change. */
    private void beforeStore(long p, int from, int to) {
        if (!tracking) {
            return;
        }
        byte[] b = pages[(int) p];
        for (int w = from / 8; w * 8 < to; w++) {
            before[w] = b == null ? 0 : (long) WORD.get(b, w * 8);
        }
    }

    /** Records store number {@code store} into bytes {@code [from, to)} of page {@code p}, now stored. */
    private void afterStore(long p, int from, int to, long store) {
        if (!tracking) {
            return;
        }
        byte[] b = pages[(int) p];
        Pending pend = pending[(int) p];
        for (int w = from / 8; w * 8 < to; w++) {
            long now = (long) WORD.get(b, w * 8);
            long was = before[w];
            if (now == was) {
                continue; // the word holds what it held: nothing new can reach the media
            }
            if (pend == null) {
                pend = new Pending();
                pending[(int) p] = pend;
                pendingCount++;
            }
            if (!pend.isDirty(w)) {
                pend.markDirty(w);
                pend.committed[w] = was; // a word that was not pending held its committed value
                pend.committedStore[w] = store - 1;
            } else {
                if (pend.older[w] == null) {
                    pend.older[w] = new Stamped(2);
                }
                pend.older[w].add(was, pend.currentStore[w]);
            }
            pend.currentStore[w] = store;
        }
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

    /** Where stores fail ({@link #failWritesWhere}), or null. */
    private java.util.function.LongPredicate unwritable;

    /**
     * Whether the device claims to hand out writable views ({@link #claimViews}); it never has
     * one to give ({@code writableView} stays null), so a writer takes its scratch-buffer way.
     */
    private volatile boolean claimsViews;

    /** Makes {@link #hasWritableViews} true (kept by {@link #reopen}); returns this device. */
    SimulatedPmem claimViews() {
        claimsViews = true;
        return this;
    }

    @Override
    public boolean hasWritableViews() {
        return claimsViews;
    }

    @Override
    public synchronized void read(long offset, ByteBuffer dst) throws IOException {
        int len = dst.remaining();
        check(offset, len);
        if (unreadable != null && offset < unreadable[1] && offset + len > unreadable[0]) {
            if (unreadableFaults) {
                throw new InternalError("simulated fault in an unsafe memory access operation");
            }
            throw new IOException("simulated media error reading [" + offset + ", +" + len + ")");
        }
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
        if (unwritable != null && unwritable.test(offset)) {
            throw new IOException("simulated media error storing " + len + " bytes at " + offset);
        }
        mutation(Operation.STORE);
        long store = ++stores;
        long pos = offset;
        while (src.hasRemaining()) {
            long p = pos / PAGE;
            int in = (int) (pos % PAGE);
            int n = Math.min(src.remaining(), PAGE - in);
            beforeStore(p, in, in + n);
            src.get(page(p, true), in, n);
            afterStore(p, in, in + n, store);
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
        mutation(Operation.FILL);
        long store = ++stores;
        long end = offset + length;
        for (long p = offset / PAGE; p * PAGE < end; p++) {
            if (pages[(int) p] == null && value == 0) {
                continue; // already zero: nothing changes
            }
            int from = (int) (Math.max(offset, p * PAGE) - p * PAGE);
            int to = (int) (Math.min(end, (p + 1) * PAGE) - p * PAGE);
            beforeStore(p, from, to);
            Arrays.fill(page(p, true), from, to, value);
            afterStore(p, from, to, store);
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

    /** Notes, for this thread's next fence, the pending words of the range with the store each holds now. */
    @Override
    public synchronized void flush(long offset, long length) throws IOException {
        check(offset, length);
        mutation(Operation.FLUSH);
        if (!tracking || pendingCount == 0 || length == 0) {
            return;
        }
        Stamped flushed = flushedNotFenced.get();
        long end = offset + length;
        for (long p = offset / PAGE; p * PAGE < end; p++) {
            Pending pend = pending[(int) p];
            if (pend == null) {
                continue;
            }
            int from = (int) (Math.max(offset, p * PAGE) - p * PAGE);
            int to = (int) (Math.min(end, (p + 1) * PAGE) - p * PAGE);
            for (int w = from / 8; w * 8 < to; w++) {
                if (pend.isDirty(w)) {
                    flushed.add(p * WORDS + w, pend.currentStore[w]);
                }
            }
        }
    }

    /** Commits, word by word, the values this thread's flushes since its last fence saw. */
    @Override
    public synchronized void fence() throws IOException {
        check(0, 0);
        mutation(Operation.FENCE);
        if (!tracking) {
            return;
        }
        Stamped flushed = flushedNotFenced.get();
        for (int i = 0; i < flushed.count; i++) {
            commit(flushed.values[i], flushed.stores[i]);
        }
        flushed.count = 0;
    }

    /** Makes the value that store number {@code store} left in {@code word} its committed value. */
    private void commit(long word, long store) {
        int p = (int) (word / WORDS);
        int w = (int) (word % WORDS);
        Pending pend = pending[p];
        if (pend == null || !pend.isDirty(w) || store <= pend.committedStore[w]) {
            return; // committed already, with that value or a later one
        }
        if (store == pend.currentStore[w]) {
            pend.markClean(w);
            if (pend.dirtyCount == 0) {
                pending[p] = null;
                pendingCount--;
            }
            return;
        }
        Stamped o = pend.older[w];
        int i = o == null ? -1 : o.indexOf(store);
        if (i < 0) {
            throw new IllegalStateException("word " + word + ": no value of store " + store);
        }
        pend.committed[w] = o.values[i];
        pend.committedStore[w] = store;
        o.dropUpTo(store);
    }

    /** Number of pages with words that are not durable yet. */
    synchronized int pendingPages() {
        return pendingCount;
    }

    /** Reads (and views) meeting {@code [offset, offset + length)} fail from now on: a simulated media error. */
    synchronized void failReads(long offset, long length) {
        failReads(offset, length, false);
    }

    /** The same, failing as a fault in mapped memory does when {@code asFault}: with an {@link InternalError}. */
    synchronized void failReads(long offset, long length, boolean asFault) {
        unreadable = new long[] {offset, offset + length};
        unreadableFaults = asFault;
    }

    /** Stores (writes, not fills) starting where {@code at} holds fail from now on, storing nothing; null: none. */
    synchronized void failWritesWhere(java.util.function.LongPredicate at) {
        unwritable = at;
    }

    /** Reads work again everywhere (after {@link #failReads}). */
    synchronized void readsWork() {
        unreadable = null;
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
