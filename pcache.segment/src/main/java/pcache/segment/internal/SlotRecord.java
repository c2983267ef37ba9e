package pcache.segment.internal;

import java.io.IOException;

import pcache.api.format.PcacheFormat;
import pcache.api.spi.CrcProvider;
import pcache.api.spi.PmemRegion;
import pcache.api.spi.ReplicatedRecord;

/**
 * A record kept in {@value PcacheFormat#META_SLOTS} slots (reference §2.4, with the Dec-2025 fix
 * "advance slot index before writing slot"): load picks the newest slot whose CRC holds; store
 * writes the other slot, so the newest valid copy is never overwritten and a torn store leaves
 * the previous copy intact.
 */
final class SlotRecord implements ReplicatedRecord {

    private final PmemRegion region;
    private final CrcProvider crc;
    private final String structure;
    private final long deviceOffset;
    private final int slotStride;
    private final int structSize;
    private int currentSlot;
    private int currentSeq;

    SlotRecord(PmemRegion region, CrcProvider crc, String structure, long deviceOffset, int slotStride,
            int structSize) {
        if (structSize < PcacheFormat.META_HEADER_SIZE || slotStride < structSize) {
            throw new IllegalArgumentException(structure + ": bad slot geometry " + structSize + "/" + slotStride);
        }
        this.region = region;
        this.crc = crc;
        this.structure = structure;
        this.deviceOffset = deviceOffset;
        this.slotStride = slotStride;
        this.structSize = structSize;
    }

    @Override
    public String structure() {
        return structure;
    }

    @Override
    public long deviceOffset() {
        return deviceOffset;
    }

    /** Device offset of slot {@code slot}. */
    long slotOffset(int slot) {
        return deviceOffset + (long) slot * slotStride;
    }

    @Override
    public byte[] load() throws IOException {
        byte[] best = null;
        int bestSlot = -1;
        for (int slot = 0; slot < PcacheFormat.META_SLOTS; slot++) {
            byte[] candidate = new byte[structSize];
            region.read(slotOffset(slot), candidate, 0, structSize);
            if (!MetaHeader.crcMatches(crc, candidate)) {
                continue;
            }
            if (best == null || PcacheFormat.seqAfter(MetaHeader.seq(candidate), MetaHeader.seq(best))) {
                best = candidate;
                bestSlot = slot;
            }
        }
        if (best != null) {
            currentSlot = bestSlot;
            currentSeq = MetaHeader.seq(best);
        }
        return best;
    }

    /** Reads slot {@code slot} as stored, without validating it (for inspection tools). */
    byte[] readSlot(int slot) throws IOException {
        byte[] raw = new byte[structSize];
        region.read(slotOffset(slot), raw, 0, structSize);
        return raw;
    }

    @Override
    public void store(byte[] record) throws IOException {
        if (record.length != structSize) {
            throw new IllegalArgumentException(structure + ": record of " + record.length
                    + " bytes, expected " + structSize);
        }
        int seq = (currentSeq + 1) & 0xFF;
        int slot = (currentSlot + 1) % PcacheFormat.META_SLOTS;
        MetaHeader.seal(crc, record, seq);
        long off = slotOffset(slot);
        region.write(off, record, 0, structSize);
        region.flush(off, structSize);
        region.fence();
        currentSlot = slot;
        currentSeq = seq;
    }

    @Override
    public void reset(int slot, int seq) {
        if (slot < 0 || slot >= PcacheFormat.META_SLOTS) {
            throw new IllegalArgumentException("slot " + slot);
        }
        currentSlot = slot;
        currentSeq = seq & 0xFF;
    }

    @Override
    public int currentSlot() {
        return currentSlot;
    }

    @Override
    public int currentSeq() {
        return currentSeq;
    }
}
