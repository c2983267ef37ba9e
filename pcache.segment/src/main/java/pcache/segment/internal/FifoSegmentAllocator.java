package pcache.segment.internal;

import java.io.IOException;
import java.util.BitSet;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLongArray;

import pcache.api.CorruptMediaException;
import pcache.api.format.PcacheFormat;
import pcache.api.spi.CrcProvider;
import pcache.api.spi.PmemRegion;
import pcache.api.spi.ReplicatedRecord;
import pcache.api.spi.SegmentAllocator;
import pcache.api.spi.SegmentContext;
import pcache.api.spi.SegmentListener;
import pcache.api.spi.SegmentUse;
import pcache.io.log.Log;

/**
 * dm-pcache's segment layer (reference §2.5, §6.3): a linked chain of segments, generations in
 * two-slot records, a used bitmap searched from a moving hint (so segments are reused in FIFO
 * order), and reference counts whose drop to zero reclaims a data segment.
 *
 * <p>Differences from dm-pcache, on purpose: a segment whose two generation slots are both
 * invalid makes {@link #load} fail (dm-pcache silently assumes generation 0, which could revive
 * stale keys); segment ids read from media are bounds-checked; and {@link SegmentUse#DATA}
 * allocations leave the last free segment to the key log, so persisting keys never fails for
 * lack of space.
 */
public final class FifoSegmentAllocator implements SegmentAllocator {

    private static final System.Logger LOG = Log.of(FifoSegmentAllocator.class);

    private final PmemRegion region;
    private final CrcProvider crc;
    private final int deviceSegments;
    private final SegmentListener listener;

    private int count;
    private int[] physical;
    private SlotRecord[] infoRecords;
    private SlotRecord[] genRecords;
    private AtomicLongArray generations;
    private AtomicIntegerArray references;

    /** Guards the bitmap, the hint and the used count. */
    private final Object bitmapLock = new Object();
    private BitSet used;
    private int usedCount;
    private int hint;

    public FifoSegmentAllocator(SegmentContext context) {
        this.region = context.region();
        this.crc = context.crc();
        this.deviceSegments = context.deviceSegments();
        this.listener = context.listener();
    }

    private void init(int n) {
        count = n;
        physical = new int[n];
        infoRecords = new SlotRecord[n];
        genRecords = new SlotRecord[n];
        generations = new AtomicLongArray(n);
        references = new AtomicIntegerArray(n);
        used = new BitSet(n);
        usedCount = 0;
        hint = 0;
    }

    private SlotRecord infoRecord(int phys) {
        return new SlotRecord(region, crc, "segment_info of physical segment " + phys,
                PcacheFormat.segmentOffset(phys), PcacheFormat.SEG_INFO_SLOT_STRIDE,
                PcacheFormat.SEG_INFO_STRUCT_SIZE);
    }

    private SlotRecord genRecord(int phys) {
        return new SlotRecord(region, crc, "segment generation of physical segment " + phys,
                PcacheFormat.segmentOffset(phys) + PcacheFormat.SEG_GEN_OFF,
                PcacheFormat.SEG_GEN_STRUCT_SIZE, PcacheFormat.SEG_GEN_STRUCT_SIZE);
    }

    private void checkGeometry(int firstPhysical, int n) {
        if (n < 1 || firstPhysical < 0 || (long) firstPhysical + n > deviceSegments) {
            throw new IllegalArgumentException("segment chain of " + n + " from physical segment "
                    + firstPhysical + " does not fit the device's " + deviceSegments + " segments");
        }
        if (PcacheFormat.segmentOffset(firstPhysical + n) > region.sizeBytes()) {
            throw new IllegalArgumentException("device of " + region.sizeBytes()
                    + " bytes is too small for " + (firstPhysical + n) + " segments");
        }
    }

    @Override
    public void format(int firstPhysical, int n) throws IOException {
        checkGeometry(firstPhysical, n);
        init(n);
        for (int i = 0; i < n; i++) {
            int phys = firstPhysical + i;
            physical[i] = phys;
            long base = PcacheFormat.segmentOffset(phys);
            // zero both info slots and the control area (generation slots), and the first kset
            // header of the data area so a stale log can never be replayed from it
            region.fill(base, 2L * PcacheFormat.SEG_INFO_SLOT_STRIDE, (byte) 0);
            region.fill(base + PcacheFormat.SEG_GEN_OFF, PcacheFormat.SEG_CTRL_SIZE, (byte) 0);
            region.fill(base + PcacheFormat.SEG_DATA_OFF, PcacheFormat.KSET_HEADER_SIZE, (byte) 0);
            region.flush(base, PcacheFormat.SEG_DATA_OFF + PcacheFormat.KSET_HEADER_SIZE);
            region.fence();
            genRecords[i] = genRecord(phys);
            genRecords[i].store(SegmentGenCodec.encode(0));
            infoRecords[i] = infoRecord(phys);
            infoRecords[i].store(SegmentInfoCodec.encode(SegmentInfoCodec.cacheSegment(-1)));
            if (i > 0) {
                infoRecords[i - 1].store(SegmentInfoCodec.encode(SegmentInfoCodec.cacheSegment(phys)));
            }
        }
    }

    @Override
    public void load(int firstPhysical, int n) throws IOException {
        // firstPhysical comes from cache_info on the device: the loop below reports it as damaged
        // media when it is out of range, so only the context is checked here
        if (PcacheFormat.segmentOffset(deviceSegments) > region.sizeBytes()) {
            throw new IllegalArgumentException("device of " + region.sizeBytes()
                    + " bytes is too small for " + deviceSegments + " segments");
        }
        if (n < 1 || n > deviceSegments) {
            throw new CorruptMediaException("cache_info", PcacheFormat.CACHE_INFO_OFF, "records " + n
                    + " cache segments but the device has " + deviceSegments);
        }
        init(n);
        BitSet visited = new BitSet(deviceSegments);
        int phys = firstPhysical;
        for (int i = 0; i < n; i++) {
            if (phys < 0 || phys >= deviceSegments || visited.get(phys)) {
                // name the slot the bad link was read from
                long at = i == 0 ? PcacheFormat.CACHE_INFO_OFF
                        : infoRecords[i - 1].slotOffset(infoRecords[i - 1].currentSlot());
                throw new CorruptMediaException(i == 0 ? "cache_info" : "segment_info", at,
                        "links cache segment " + i + " to physical segment " + phys + ", which "
                                + (visited.get(Math.max(phys, 0)) && phys >= 0 ? "is already in the chain"
                                        : "is outside the device's " + deviceSegments + " segments")
                                + "; the segment chain is damaged");
            }
            visited.set(phys);
            physical[i] = phys;
            SlotRecord info = infoRecord(phys);
            byte[] raw = info.load();
            if (raw == null) {
                throw new CorruptMediaException("segment_info", PcacheFormat.segmentOffset(phys),
                        "neither slot of cache segment " + i + " (physical " + phys
                                + ") has a valid CRC; the segment chain cannot be followed");
            }
            SegmentInfoCodec.SegmentInfo decoded = SegmentInfoCodec.decode(raw);
            if (decoded.type() != PcacheFormat.SEG_TYPE_CACHE_DATA) {
                throw new CorruptMediaException("segment_info", info.slotOffset(info.currentSlot()),
                        "cache segment " + i + " has type " + decoded.type() + ", expected "
                                + PcacheFormat.SEG_TYPE_CACHE_DATA + " (cache data)");
            }
            infoRecords[i] = info;
            SlotRecord gen = genRecord(phys);
            byte[] rawGen = gen.load();
            if (rawGen == null) {
                throw new CorruptMediaException("segment generation",
                        PcacheFormat.segmentOffset(phys) + PcacheFormat.SEG_GEN_OFF,
                        "neither slot of cache segment " + i + " (physical " + phys
                                + ") has a valid CRC; without it stale keys cannot be told from live"
                                + " ones, so the cache is not opened (pcache:fsck shows the damage)");
            }
            genRecords[i] = gen;
            generations.set(i, SegmentGenCodec.decode(rawGen));
            if (i < n - 1) {
                if (!decoded.hasNext()) {
                    throw new CorruptMediaException("segment_info", info.slotOffset(info.currentSlot()),
                            "the chain ends at cache segment " + i + " but cache_info records " + n
                                    + " segments");
                }
                phys = decoded.nextSegment();
            }
        }
    }

    @Override
    public int segmentCount() {
        return count;
    }

    @Override
    public int physicalId(int segment) {
        return physical[segment];
    }

    @Override
    public long dataOffset(int segment) {
        return PcacheFormat.segmentOffset(physical[segment]) + PcacheFormat.SEG_DATA_OFF;
    }

    @Override
    public int allocate(SegmentUse use) {
        int reserve = use == SegmentUse.DATA ? 1 : 0;
        synchronized (bitmapLock) {
            if (count - usedCount <= reserve) {
                return -1;
            }
            int seg = used.nextClearBit(hint);
            if (seg >= count) {
                seg = used.nextClearBit(0);
            }
            used.set(seg);
            usedCount++;
            hint = seg + 1 < count ? seg + 1 : 0;
            return seg;
        }
    }

    @Override
    public void markUsed(int segment) {
        checkSegment(segment);
        synchronized (bitmapLock) {
            if (!used.get(segment)) {
                used.set(segment);
                usedCount++;
            }
            hint = segment + 1 < count ? segment + 1 : 0;
        }
    }

    @Override
    public void release(int segment) {
        checkSegment(segment);
        synchronized (bitmapLock) {
            if (used.get(segment)) {
                used.clear(segment);
                usedCount--;
            }
        }
        listener.segmentReclaimed(segment);
    }

    @Override
    public boolean isUsed(int segment) {
        synchronized (bitmapLock) {
            return used.get(segment);
        }
    }

    @Override
    public int usedCount() {
        synchronized (bitmapLock) {
            return usedCount;
        }
    }

    @Override
    public long generation(int segment) {
        return generations.get(segment);
    }

    @Override
    public void get(int segment) {
        references.incrementAndGet(segment);
    }

    /**
     * Increments only from above zero: a count that reached zero stays there while
     * {@link #reclaim} bumps the generation, so a pin either lands before the last {@link #put}
     * (and that put then leaves the segment alone) or fails. The generation is checked after the
     * increment: a segment reclaimed and allocated again before it has a count above zero again,
     * and the pin is then given back.
     */
    @Override
    public boolean tryGet(int segment, long generation) {
        int now;
        do {
            now = references.get(segment);
            if (now <= 0) {
                return false;
            }
        } while (!references.compareAndSet(segment, now, now + 1));
        if (generations.get(segment) == generation) {
            return true;
        }
        try {
            put(segment); // ours may be the last reference to the segment's new life
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "cache segment {0}: reclaim after a failed pin failed: {1}",
                    segment, e.getMessage());
        }
        return false;
    }

    @Override
    public void put(int segment) throws IOException {
        int left = references.decrementAndGet(segment);
        if (left > 0) {
            return;
        }
        if (left < 0) {
            references.incrementAndGet(segment);
            throw new IllegalStateException("reference count of cache segment " + segment + " underflow");
        }
        reclaim(segment);
    }

    /**
     * Bumps and persists the generation before freeing the bit (reference §7.2 item 5): once the
     * segment can be reused, every key of the old generation is already known to be invalid.
     */
    private void reclaim(int segment) throws IOException {
        SlotRecord gen = genRecords[segment];
        synchronized (gen) {
            long next = generations.get(segment) + 1;
            try {
                gen.store(SegmentGenCodec.encode(next));
            } catch (IOException | RuntimeException | Error e) {
                // not reclaimed: the reference comes back, so the same put can be tried again
                // (GC retries it) and the segment is not left taken with no reference to free it
                references.incrementAndGet(segment);
                throw e;
            }
            generations.set(segment, next);
        }
        LOG.log(System.Logger.Level.DEBUG, "reclaimed cache segment {0}, generation {1}", segment,
                generations.get(segment));
        release(segment);
    }

    @Override
    public int references(int segment) {
        return references.get(segment);
    }

    @Override
    public ReplicatedRecord record(String structure, long deviceOffset, int slotStride, int structSize) {
        return new SlotRecord(region, crc, structure, deviceOffset, slotStride, structSize);
    }

    private void checkSegment(int segment) {
        if (segment < 0 || segment >= count) {
            throw new IndexOutOfBoundsException("cache segment " + segment + " outside 0.." + (count - 1));
        }
    }
}
