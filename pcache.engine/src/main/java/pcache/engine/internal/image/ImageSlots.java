package pcache.engine.internal.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import pcache.api.format.PcacheFormat;
import pcache.api.format.PcacheLayout;
import pcache.api.spi.CrcProvider;

/**
 * The two slots of a replicated metadata record as an offline tool sees them (reference §2.2,
 * §2.4): each slot empty, valid or damaged, and which one a cache would use (the newest valid
 * one by wrap-safe sequence number). Unlike the engine's slot record it keeps the verdict of both
 * slots, so tools can report a damaged spare.
 */
public final class ImageSlots {

    /** What one slot holds. */
    public enum State {
        /** All zero: never written (a fresh record writes only one slot). */
        EMPTY,
        /** The CRC over bytes 4..end matches. */
        VALID,
        /** Not all zero and the CRC does not match: torn or damaged. */
        DAMAGED
    }

    /**
     * One slot.
     *
     * @param index 0 or 1
     * @param offset device offset of the slot
     * @param state the verdict
     * @param seq the 8-bit sequence number stored in it
     * @param storedCrc the CRC stored in it
     * @param computedCrc the CRC of its bytes 4..end
     * @param bytes the whole structure as stored
     */
    public record Slot(int index, long offset, State state, int seq, int storedCrc, int computedCrc, byte[] bytes) {

        public ByteBuffer littleEndian() {
            return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        }

        /** {@code seq 2, crc ok}, {@code empty}, or {@code crc mismatch (stored ..., computed ...)}. */
        public String verdict() {
            return switch (state) {
                case EMPTY -> "empty (all zero)";
                case VALID -> "seq " + seq + ", crc ok";
                case DAMAGED -> "seq " + seq + ", crc MISMATCH (stored 0x" + Integer.toHexString(storedCrc)
                        + ", computed 0x" + Integer.toHexString(computedCrc) + ")";
            };
        }
    }

    private final String structure;
    private final Slot[] slots;
    private final int current;

    private ImageSlots(String structure, Slot[] slots, int current) {
        this.structure = structure;
        this.slots = slots;
        this.current = current;
    }

    /** Reads both slots of a record of {@code structSize} bytes at {@code offset}, {@code stride} apart. */
    public static ImageSlots read(ImageFile image, CrcProvider crc, String structure, long offset, int stride,
            int structSize) throws IOException {
        Slot[] slots = new Slot[PcacheFormat.META_SLOTS];
        int current = -1;
        for (int i = 0; i < slots.length; i++) {
            long at = offset + (long) i * stride;
            byte[] b = image.read(at, structSize);
            int stored = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getInt(PcacheLayout.MetaHeader.CRC);
            int computed = crc.checksum(b, PcacheLayout.MetaHeader.CRC_START,
                    structSize - PcacheLayout.MetaHeader.CRC_START);
            State state = allZero(b) ? State.EMPTY : stored == computed ? State.VALID : State.DAMAGED;
            slots[i] = new Slot(i, at, state, b[PcacheLayout.MetaHeader.SEQ] & 0xFF, stored, computed, b);
            if (state == State.VALID && (current < 0 || PcacheFormat.seqAfter(slots[i].seq(), slots[current].seq()))) {
                current = i;
            }
        }
        return new ImageSlots(structure, slots, current);
    }

    public static boolean allZero(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }

    public String structure() {
        return structure;
    }

    public Slot slot(int i) {
        return slots[i];
    }

    /** The slot a cache would use, or null when neither is valid. */
    public Slot current() {
        return current < 0 ? null : slots[current];
    }

    /** True when both slots are empty. */
    public boolean empty() {
        return slots[0].state() == State.EMPTY && slots[1].state() == State.EMPTY;
    }

    /** The damaged slot beside a valid current one, or null. */
    public Slot damagedSpare() {
        if (current < 0) {
            return null;
        }
        Slot other = slots[1 - current];
        return other.state() == State.DAMAGED ? other : null;
    }

    /** A one-line description of both slots, e.g. for a segment: {@code slot 1 seq 2 (slot 0 empty)}. */
    public String compact() {
        Slot c = current();
        if (c == null) {
            return "no valid slot (" + slots[0].state().name().toLowerCase(java.util.Locale.ROOT) + ", "
                    + slots[1].state().name().toLowerCase(java.util.Locale.ROOT) + ")";
        }
        Slot other = slots[1 - c.index()];
        String spare = switch (other.state()) {
            case EMPTY -> "";
            case VALID -> "";
            case DAMAGED -> ", slot " + other.index() + " DAMAGED";
        };
        return "slot " + c.index() + " seq " + c.seq() + spare;
    }
}
