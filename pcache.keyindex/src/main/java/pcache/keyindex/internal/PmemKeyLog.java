package pcache.keyindex.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

import pcache.api.CachePos;
import pcache.api.CorruptMediaException;
import pcache.api.PcacheException;
import pcache.api.format.PcacheFormat;
import pcache.api.spi.CacheKey;
import pcache.api.spi.CrcProvider;
import pcache.api.spi.KeyLog;
import pcache.api.spi.KeyLogContext;
import pcache.api.spi.KeyLogListener;
import pcache.api.spi.Kset;
import pcache.api.spi.PmemRegion;
import pcache.api.spi.SegmentAllocator;
import pcache.api.spi.SegmentUse;
import pcache.io.log.Log;

/**
 * The key log on a pmem region (reference §3.5): one kset buffer per stream, chosen by the key's
 * 4 MiB slice, persisted at key_head.
 *
 * <p>Beyond dm-pcache: a segment taken for the key log has its whole data area zeroed before the
 * log moves into it. dm-pcache zeroes only the first header, so a kset left from the segment's
 * earlier life (or cached data that happens to look like one) could be replayed after a crash
 * that persisted a kset but not its terminator (reference §7.4). With the area zeroed, everything
 * past the end of the log is zero.
 *
 * <p>Group commit: closing a buffer only seals it and reserves its place at key_head (under the
 * buffer's lock and briefly the head lock); writing it to pmem and waiting for persistence happen
 * outside both locks, so appends to a buffer never wait behind another thread's msync. Ksets are
 * numbered in log order and acknowledged in that order: a close (FUA) or a flush returns only
 * when its kset <em>and every kset before it</em> are durable, because replay stops at the first
 * kset that is not — a later one alone would be unreachable. The same ordering gives
 * {@link #persistedHead()}, the end of the durable log, which write-back and GC may read up to.
 * No terminator header is written after a kset: everything past key_head is zero already (key
 * segments are zeroed when taken, and {@link #start} zeroes the rest of the current one), so a
 * kset reserved later never races with the terminator of an earlier one.
 *
 * <p>Locking: append runs under the caller's slice lock, then the buffer's lock, then (to close)
 * the head lock. Nothing takes a slice lock while holding a buffer or head lock.
 */
final class PmemKeyLog implements KeyLog {

    private static final System.Logger LOG = Log.of(PmemKeyLog.class);
    private static final long RETRY_MILLIS = 100;
    /**
     * A kset closes once its keys cover this much data (one data segment), before it has 128
     * keys: write-back and GC move one kset at a time, so with large writes (128 keys of 1 MiB)
     * cache space would otherwise come back in lumps of 128 MiB and a writer waiting for space
     * would wait for all of it.
     */
    static final long KSET_DATA_BYTES_MAX = PcacheFormat.SEG_DATA_SIZE;

    private final PmemRegion region;
    private final CrcProvider crc;
    private final SegmentAllocator segments;
    private final KeyLogContext context;
    private final KeyLogListener listener;
    private final KsetBuffer[] buffers;
    private final Object headLock = new Object();
    private CachePos head;
    private volatile boolean closed;

    /** Ksets reserved so far (the last sequence number handed out); guarded by headLock. */
    private long reserved;
    /** Where the kset numbered {@link #reserved} starts, unless that is a LAST kset; head lock. */
    private CachePos lastReservedAt;
    /**
     * Ksets of this run that no client flush or FUA write follows before the next kset (see
     * {@link #flushBarrierAfter}); a kset leaves the set when a flush or FUA marks it or write-back
     * passes it. Replayed ksets are never in it: their flushes are not known.
     */
    private final java.util.Set<CachePos> noBarrierAfter = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /** Guards the persistence bookkeeping below. */
    private final Object persistLock = new Object();
    /** Every kset numbered up to this is durable. */
    private long persistedThrough;
    /** End of the durable log: where the kset after {@link #persistedThrough} starts. */
    private CachePos persistedHead;
    /** Ksets persisted out of order: number -> its end position and size (for the listener). */
    private final java.util.TreeMap<Long, Reserved> persistedAhead = new java.util.TreeMap<>();
    /** Set when a kset could not be written: the log has a hole and takes nothing more. */
    private volatile IOException failure;

    /** A sealed kset with its place in the log. */
    private record Reserved(long seq, CachePos at, byte[] image, int size, boolean last) {
        CachePos end() {
            return new CachePos(at.segment(), at.offset() + size);
        }
    }

    PmemKeyLog(KeyLogContext context) {
        this.context = context;
        this.region = context.region();
        this.crc = context.crc();
        this.segments = context.segments();
        this.listener = context.listener();
        int n = Math.max(1, context.streams());
        this.buffers = new KsetBuffer[n];
        for (int i = 0; i < n; i++) {
            buffers[i] = new KsetBuffer();
        }
    }

    /** One stream's kset being built: the image of up to 128 keys behind a 24-byte header. */
    private final class KsetBuffer {
        final ByteBuffer image = ByteBuffer.allocate(PcacheFormat.KSET_MAX_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        int keys;
        /** Bytes of cached data the keys cover. */
        long dataBytes;
        ScheduledFuture<?> timer;
        /**
         * Held while the timer writes the kset it sealed, outside the buffer's lock (appends go
         * on meanwhile, as they do beside another append's write); {@link #close} takes it to
         * wait for that write, as it waited for it when the write ran under the buffer's lock.
         */
        final Object timerWrite = new Object();

        void timerFired() {
            synchronized (timerWrite) {
                Reserved r;
                synchronized (this) {
                    timer = null;
                    if (closed || keys == 0) {
                        return;
                    }
                    try {
                        r = sealAndReserve(this, false);
                    } catch (IOException e) {
                        if (failure != null) {
                            // failed for good, and said so when it did (every later flush says it
                            // again): a retry could only fail, and report, every RETRY_MILLIS forever
                            return;
                        }
                        listener.flushFailed(e);
                        arm(RETRY_MILLIS);
                        return;
                    }
                }
                try {
                    persist(r);
                } catch (IOException e) {
                    listener.flushFailed(e);
                }
            }
        }

        /** Called with this buffer's lock held. */
        void arm(long delayMillis) {
            if (timer == null && !closed) {
                timer = context.scheduler().schedule(this::timerFired, delayMillis, TimeUnit.MILLISECONDS);
            }
        }

        void disarm() {
            if (timer != null) {
                timer.cancel(false);
                timer = null;
            }
        }
    }

    @Override
    public Kset read(CachePos position) throws IOException {
        int seg = position.segment();
        int off = position.offset();
        if (seg < 0 || seg >= segments.segmentCount() || off < 0
                || (long) off + PcacheFormat.KSET_HEADER_SIZE > PcacheFormat.SEG_DATA_SIZE) {
            return null;
        }
        long base = segments.dataOffset(seg) + off;
        ByteBuffer header = ByteBuffer.allocate(PcacheFormat.KSET_HEADER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        region.read(base, header);
        switch (KsetCodec.checkHeader(header, crc)) {
            case LAST: {
                int next = KsetCodec.keyNumOrNext(header);
                if (next < 0 || next >= segments.segmentCount()) {
                    throw new CorruptMediaException("kset", base, "LAST kset at " + position
                            + " links the key log to cache segment " + next + ", outside the cache's "
                            + segments.segmentCount() + " segments");
                }
                return new Kset(position, PcacheFormat.KSET_HEADER_SIZE, true, next, java.util.List.of());
            }
            case KEYS: {
                int size = KsetCodec.size(KsetCodec.keyNumOrNext(header));
                if ((long) off + size > PcacheFormat.SEG_DATA_SIZE) {
                    return null;
                }
                ByteBuffer image = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
                region.read(base, image);
                Kset kset = KsetCodec.decodeBody(position, image, crc);
                if (kset != null) {
                    if (!PcacheFormat.leavesRoomForLast(off, size)) {
                        // appending after it would put the LAST kset past the data area
                        throw new CorruptMediaException("kset", base, "the kset at " + position + " (" + size
                                + " bytes) ends within " + PcacheFormat.KSET_HEADER_SIZE + " bytes of its segment's data"
                                + " area, where dm-pcache always keeps room for a LAST kset, although its CRC matches");
                    }
                    checkKeys(kset, base);
                }
                return kset;
            }
            default:
                return null;
        }
    }

    /**
     * A kset whose CRC holds but whose keys cannot have been written by dm-pcache is damage, not
     * the end of the log: its ids would index arrays and its extents address pmem (reference §3.6
     * asks for validation; the kernel has none).
     */
    private void checkKeys(Kset kset, long base) throws CorruptMediaException {
        for (int i = 0; i < kset.keys().size(); i++) {
            CacheKey k = kset.keys().get(i);
            String problem = null;
            if (k.length() <= 0 || k.offset() < 0 || k.offset() > Long.MAX_VALUE - k.length() // its end overflows
                    || (k.offset() >>> PcacheFormat.SUBTREE_SHIFT) != ((k.end() - 1) >>> PcacheFormat.SUBTREE_SHIFT)) {
                problem = "covers " + k.offset() + "+" + Integer.toUnsignedString(k.length())
                        + ", which is empty or crosses a 4 MiB boundary";
            } else if (k.segment() < 0 || k.segment() >= segments.segmentCount()) {
                problem = "points to cache segment " + Integer.toUnsignedString(k.segment())
                        + ", outside the cache's " + segments.segmentCount() + " segments";
            } else if (k.segmentOffset() < 0
                    || (long) k.segmentOffset() + k.length() > PcacheFormat.SEG_DATA_SIZE) {
                problem = "lies at " + Integer.toUnsignedString(k.segmentOffset()) + "+" + k.length()
                        + " in its segment, beyond the data area";
            } else {
                problem = PcacheFormat.misalignment(k.offset(), k.length(), k.segmentOffset());
            }
            if (problem != null) {
                throw new CorruptMediaException("kset", base, "key " + i + " of the kset at "
                        + kset.position() + " " + problem + " although the kset's CRC matches");
            }
        }
    }

    /**
     * Starts appending at {@code head}, after zeroing the rest of its segment: past the end of the
     * log there must be nothing a later replay could mistake for a kset (a torn or unreachable
     * kset from before a crash, or a segment the kernel took without zeroing it).
     */
    @Override
    public void start(CachePos head) throws IOException {
        long from = segments.dataOffset(head.segment()) + head.offset();
        long length = PcacheFormat.SEG_DATA_SIZE - head.offset();
        region.fill(from, length, (byte) 0);
        region.flush(from, length);
        region.fence();
        synchronized (headLock) {
            this.head = head;
        }
        synchronized (persistLock) {
            persistedHead = head;
        }
    }

    @Override
    public CachePos head() {
        synchronized (headLock) {
            return head;
        }
    }

    @Override
    public CachePos persistedHead() {
        synchronized (persistLock) {
            return persistedHead;
        }
    }

    @Override
    public void append(CacheKey key, boolean forceClose) throws IOException {
        if (closed) {
            throw new PcacheException("key log is closed");
        }
        if (key.isEmpty()) {
            // it would be logged as dirty data at the placeholder's unset position
            throw new IllegalArgumentException("a placeholder cannot be logged: " + key);
        }
        checkFailure();
        KsetBuffer b = buffers[(int) ((key.offset() >>> PcacheFormat.SUBTREE_SHIFT) % buffers.length)];
        Reserved r = null;
        synchronized (b) {
            KeyCodec.encode(key, b.image, KsetCodec.size(b.keys));
            b.keys++;
            b.dataBytes += key.length();
            try {
                if (b.keys == PcacheFormat.KSET_KEYS_MAX || b.dataBytes >= KSET_DATA_BYTES_MAX || forceClose) {
                    r = sealAndReserve(b, forceClose);
                } else {
                    b.arm(context.flushDelayMillis());
                }
            } catch (IOException | RuntimeException | Error e) {
                // the key stays out of the log: the caller fails the request (an Error too: the
                // caller takes the key out of its index and gives its space back)
                b.keys--;
                b.dataBytes -= key.length();
                throw e;
            }
        }
        if (r != null) {
            persist(r);
            if (forceClose) {
                try {
                    awaitPersisted(r.seq());
                } catch (IOException e) {
                    // the key's kset is written: the key is in the log whatever happens to this wait
                    throw new pcache.api.spi.KeyLoggedException("the key's kset at " + r.at() + " is written, but"
                            + " waiting for the ksets before it failed: " + e.getMessage(), e);
                }
            }
        }
    }

    @Override
    public void flush() throws IOException {
        flushToBarrier(null);
    }

    /** {@code atBarrier} runs under the head lock, before another kset can be reserved at the position. */
    @Override
    public CachePos flushToBarrier(java.util.function.Consumer<CachePos> atBarrier) throws IOException {
        checkFailure();
        java.util.List<Reserved> mine = new java.util.ArrayList<>(buffers.length);
        try {
            for (KsetBuffer b : buffers) {
                synchronized (b) {
                    if (b.keys > 0) {
                        mine.add(sealAndReserve(b, false));
                    }
                }
            }
        } catch (IOException | RuntimeException | Error e) {
            persistAnyway(mine, e);
            throw e;
        }
        long target;
        CachePos barrier;
        try {
            synchronized (headLock) {
                // also covers ksets other threads sealed before this flush and are still writing
                target = reserved;
                // every write acknowledged before this flush is in a kset up to here: a barrier
                if (lastReservedAt != null) {
                    noBarrierAfter.remove(lastReservedAt);
                }
                barrier = head;
                if (atBarrier != null) {
                    atBarrier.accept(barrier);
                }
            }
        } catch (RuntimeException | Error e) {
            persistAnyway(mine, e);
            throw e;
        }
        for (Reserved r : mine) {
            persist(r);
        }
        awaitPersisted(target);
        return barrier;
    }

    /**
     * Writes the ksets a failing flush already reserved ({@code failure} collects what fails
     * too): they hold keys taken out of their buffers (acknowledged writes the index holds), and numbers every
     * later flush waits for. Left unwritten, the log would miss those keys and every later flush
     * and FUA write would wait forever.
     */
    private void persistAnyway(java.util.List<Reserved> reserved, Throwable failure) {
        for (Reserved r : reserved) {
            try {
                persist(r);
            } catch (IOException | RuntimeException also) {
                failure.addSuppressed(also);
            }
        }
    }

    private void checkFailure() throws IOException {
        IOException f = failure;
        if (f != null) {
            throw new PcacheException("the key log failed earlier and takes no more keys: " + f.getMessage(), f);
        }
    }

    /** Waits until every kset numbered up to {@code seq} is durable. */
    private void awaitPersisted(long seq) throws IOException {
        synchronized (persistLock) {
            while (persistedThrough < seq) {
                checkFailure();
                try {
                    persistLock.wait(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new java.io.InterruptedIOException("interrupted while waiting for the key log to persist");
                }
            }
        }
        checkFailure();
    }

    /** Writes a reserved kset and makes it durable; then advances the durable end of the log. */
    private void persist(Reserved r) throws IOException {
        long base = segments.dataOffset(r.at().segment()) + r.at().offset();
        try {
            region.write(base, r.image(), 0, r.size());
            region.flush(base, r.size());
            region.fence();
        } catch (IOException | RuntimeException | Error e) {
            // an Error too (the JVM's InternalError for a fault in mapped memory): a kset whose
            // write ended without setting the failure would leave every later flush waiting forever
            IOException io = e instanceof IOException ioe ? ioe
                    : new IOException("writing the kset at " + r.at() + " failed: " + e, e);
            failure = io;
            synchronized (persistLock) {
                persistLock.notifyAll();
            }
            throw io;
        }
        completed(r);
    }

    /**
     * Advances the durable end of the log over {@code r} and the ksets persisted ahead of it. The
     * listener hears of them in log order under the persistence lock, so a flush that waited for
     * them returns only after it has (a drain counts what to write back from it).
     */
    private void completed(Reserved r) {
        synchronized (persistLock) {
            if (r.seq() != persistedThrough + 1) {
                persistedAhead.put(r.seq(), r);
                return;
            }
            Reserved done = r;
            while (true) {
                persistedThrough = done.seq();
                persistedHead = done.last() ? new CachePos(lastNext(done), 0) : done.end();
                try {
                    listener.ksetPersisted(done.at(), done.size());
                } catch (RuntimeException e) {
                    // the log's own bookkeeping must go on, or every later flush would wait forever
                    LOG.log(System.Logger.Level.ERROR, "the key log's listener failed on the kset at " + done.at(), e);
                }
                if (persistedAhead.isEmpty() || persistedAhead.firstKey() != persistedThrough + 1) {
                    break;
                }
                done = persistedAhead.pollFirstEntry().getValue();
            }
            persistLock.notifyAll();
        }
    }

    private static int lastNext(Reserved last) {
        return KsetCodec.keyNumOrNext(ByteBuffer.wrap(last.image()).order(ByteOrder.LITTLE_ENDIAN));
    }

    @Override
    public int pendingKeys() {
        int n = 0;
        for (KsetBuffer b : buffers) {
            synchronized (b) {
                n += b.keys;
            }
        }
        return n;
    }

    /**
     * Seals buffer {@code b} (its lock held, at least one key) and reserves its place at key_head,
     * moving the log to a new segment first when this one could not also hold a LAST kset. With
     * {@code barrier} (a FUA write's kset) nothing logged later joins it in write-back.
     */
    private Reserved sealAndReserve(KsetBuffer b, boolean barrier) throws IOException {
        int size = KsetCodec.sealKeys(b.image, b.keys, crc);
        Reserved r;
        synchronized (headLock) {
            if (head == null) {
                throw new IllegalStateException("key log not started");
            }
            checkFailure();
            if ((long) head.offset() + size + PcacheFormat.KSET_HEADER_SIZE > PcacheFormat.SEG_DATA_SIZE) {
                moveToNewSegment();
            }
            r = new Reserved(++reserved, head, java.util.Arrays.copyOf(b.image.array(), size), size, false);
            head = r.end();
            lastReservedAt = r.at();
            if (barrier) {
                noBarrierAfter.remove(r.at());
            } else {
                noBarrierAfter.add(r.at());
            }
        }
        b.keys = 0;
        b.dataBytes = 0;
        b.disarm();
        return r;
    }

    /**
     * Takes a new key segment, zeroes it, links it with a LAST kset at key_head (head lock held).
     * The LAST kset is a kset of the log like any other: numbered, and durable before anything
     * after it is acknowledged.
     */
    private void moveToNewSegment() throws IOException {
        int next = segments.allocate(SegmentUse.KEY_LOG);
        if (next < 0) {
            throw new PcacheException("no free segment for the key log: the cache device is full"
                    + " (write-back and GC must free space first)");
        }
        long data = segments.dataOffset(next);
        try {
            region.fill(data, PcacheFormat.SEG_DATA_SIZE, (byte) 0);
            region.flush(data, PcacheFormat.SEG_DATA_SIZE);
            region.fence();
        } catch (IOException | RuntimeException | Error e) {
            // not linked into the log: give it back, or every retry (the kset timer's, each FUA
            // write's) would take another segment until none is left
            segments.release(next);
            throw e;
        }
        Reserved last = new Reserved(++reserved, head, KsetCodec.last(next, crc), PcacheFormat.KSET_HEADER_SIZE, true);
        noBarrierAfter.add(last.at()); // a link carries no writes: never a barrier of its own
        LOG.log(System.Logger.Level.DEBUG, "key log moved from cache segment {0} to {1}", head.segment(), next);
        head = new CachePos(next, 0);
        persist(last);
    }

    @Override
    public boolean flushBarrierAfter(CachePos position) {
        return !noBarrierAfter.contains(position);
    }

    @Override
    public void writtenBack(CachePos position) {
        noBarrierAfter.remove(position);
    }

    @Override
    public void close() {
        closed = true;
        for (KsetBuffer b : buffers) {
            synchronized (b) {
                b.disarm();
            }
            synchronized (b.timerWrite) {
                // a kset the timer sealed before the close is written once this returns
            }
        }
    }
}
