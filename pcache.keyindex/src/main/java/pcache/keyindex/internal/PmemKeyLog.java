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
 * <p>Locking: append runs under the caller's slice lock, then the buffer's lock, then (to close)
 * the head lock. Nothing takes a slice lock while holding a buffer or head lock.
 */
final class PmemKeyLog implements KeyLog {

    private static final System.Logger LOG = System.getLogger(PmemKeyLog.class.getName());
    private static final long RETRY_MILLIS = 100;

    private final PmemRegion region;
    private final CrcProvider crc;
    private final SegmentAllocator segments;
    private final KeyLogContext context;
    private final KeyLogListener listener;
    private final KsetBuffer[] buffers;
    private final Object headLock = new Object();
    private final byte[] zeroHeader = new byte[PcacheFormat.KSET_HEADER_SIZE];
    private CachePos head;
    private volatile boolean closed;

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
        ScheduledFuture<?> timer;

        void timerFired() {
            synchronized (this) {
                timer = null;
                if (closed || keys == 0) {
                    return;
                }
                try {
                    closeLocked(this);
                } catch (IOException e) {
                    listener.flushFailed(e);
                    arm(RETRY_MILLIS);
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
            if (k.length() <= 0 || k.offset() < 0
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
            }
            if (problem != null) {
                throw new CorruptMediaException("kset", base, "key " + i + " of the kset at "
                        + kset.position() + " " + problem + " although the kset's CRC matches");
            }
        }
    }

    @Override
    public void start(CachePos head) {
        synchronized (headLock) {
            this.head = head;
        }
    }

    @Override
    public CachePos head() {
        synchronized (headLock) {
            return head;
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
        KsetBuffer b = buffers[(int) ((key.offset() >>> PcacheFormat.SUBTREE_SHIFT) % buffers.length)];
        synchronized (b) {
            KeyCodec.encode(key, b.image, KsetCodec.size(b.keys));
            b.keys++;
            try {
                if (b.keys == PcacheFormat.KSET_KEYS_MAX || forceClose) {
                    closeLocked(b);
                } else {
                    b.arm(context.flushDelayMillis());
                }
            } catch (IOException | RuntimeException e) {
                // the key stays out of the log: the caller fails the request. (Zero keys means the
                // kset was persisted and only the listener failed; nothing to take back then.)
                if (b.keys > 0) {
                    b.keys--;
                }
                throw e;
            }
        }
    }

    @Override
    public void flush() throws IOException {
        for (KsetBuffer b : buffers) {
            synchronized (b) {
                closeLocked(b);
            }
        }
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

    /** Persists buffer {@code b} (its lock held) at key_head; no-op when empty. */
    private void closeLocked(KsetBuffer b) throws IOException {
        if (b.keys == 0) {
            return;
        }
        int size = KsetCodec.sealKeys(b.image, b.keys, crc);
        CachePos at;
        synchronized (headLock) {
            if (head == null) {
                throw new IllegalStateException("key log not started");
            }
            // always keep room for a LAST kset after this one
            if ((long) head.offset() + size + PcacheFormat.KSET_HEADER_SIZE > PcacheFormat.SEG_DATA_SIZE) {
                moveToNewSegment();
            }
            at = head;
            long base = segments.dataOffset(at.segment()) + at.offset();
            // terminator first in program order; both are made durable by one flush + fence
            region.write(base + size, zeroHeader, 0, zeroHeader.length);
            region.write(base, b.image.array(), 0, size);
            region.flush(base, size + PcacheFormat.KSET_HEADER_SIZE);
            region.fence();
            head = new CachePos(at.segment(), at.offset() + size);
        }
        b.keys = 0;
        b.disarm();
        listener.ksetPersisted(at, size);
    }

    /** Takes a new key segment, zeroes it, links it with a LAST kset at key_head. Head lock held. */
    private void moveToNewSegment() throws IOException {
        int next = segments.allocate(SegmentUse.KEY_LOG);
        if (next < 0) {
            throw new PcacheException("no free segment for the key log: the cache device is full"
                    + " (write-back and GC must free space first)");
        }
        long data = segments.dataOffset(next);
        region.fill(data, PcacheFormat.SEG_DATA_SIZE, (byte) 0);
        region.flush(data, PcacheFormat.SEG_DATA_SIZE);
        region.fence();
        long base = segments.dataOffset(head.segment()) + head.offset();
        region.write(base, KsetCodec.last(next, crc), 0, PcacheFormat.KSET_HEADER_SIZE);
        region.flush(base, PcacheFormat.KSET_HEADER_SIZE);
        region.fence();
        LOG.log(System.Logger.Level.DEBUG, "key log moved from cache segment {0} to {1}", head.segment(), next);
        listener.ksetPersisted(head, PcacheFormat.KSET_HEADER_SIZE);
        head = new CachePos(next, 0);
    }

    @Override
    public void close() {
        closed = true;
        for (KsetBuffer b : buffers) {
            synchronized (b) {
                b.disarm();
            }
        }
    }
}
