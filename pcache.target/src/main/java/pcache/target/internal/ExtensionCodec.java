package pcache.target.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import pcache.api.spi.BackingIdentity;

/**
 * pcache's own record, in the first 4 KiB of the cache device that dm-pcache leaves unused: the
 * identity of the backing device the cache belongs to and the quarantined ranges. Two slots of
 * 2 KiB with the common metadata header, updated like every replicated record. dm-pcache never
 * reads this area, so images stay compatible both ways; an image the kernel wrote has no valid
 * record here (the area holds whatever was there before), which means "nothing recorded yet".
 *
 * <pre>
 * 0    header (crc, seq, version, reserved)
 * 8    magic u64 "PCACHEX1"
 * 16   backing size u64
 * 24   quarantine count u16 | 26 id length u16 | 28 reserved u32
 * 32   backing id, UTF-8, up to 1024 bytes
 * 1056 quarantine entries: off u64, len u64 (up to 62)
 * </pre>
 */
final class ExtensionCodec {

    static final int SLOT_STRIDE = 2048;
    static final int STRUCT_SIZE = 2048;
    static final long MAGIC = 0x3158454843414350L; // "PCACHEX1" little-endian
    static final int MAGIC_OFF = 8;
    static final int BACKING_SIZE_OFF = 16;
    static final int QUARANTINE_COUNT_OFF = 24;
    static final int ID_LENGTH_OFF = 26;
    static final int ID_OFF = 32;
    static final int QUARANTINE_OFF = ID_OFF + BackingIdentity.MAX_ID_BYTES;
    static final int QUARANTINE_ENTRY = 16;
    static final int QUARANTINE_MAX = (STRUCT_SIZE - QUARANTINE_OFF) / QUARANTINE_ENTRY;

    /** A logical range whose newest data was lost (a dirty extent that failed its CRC). */
    record Range(long offset, long length) {
        long end() {
            return offset + length;
        }
    }

    /** What the record holds. */
    record Extension(BackingIdentity backing, List<Range> quarantine) {
    }

    private ExtensionCodec() {
    }

    static byte[] encode(Extension ext) {
        if (ext.quarantine().size() > QUARANTINE_MAX) {
            throw new IllegalArgumentException("more than " + QUARANTINE_MAX + " quarantined ranges");
        }
        byte[] b = new byte[STRUCT_SIZE];
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        bb.putLong(MAGIC_OFF, MAGIC);
        if (ext.backing() != null) {
            byte[] id = ext.backing().id().getBytes(StandardCharsets.UTF_8);
            bb.putLong(BACKING_SIZE_OFF, ext.backing().sizeBytes());
            bb.putShort(ID_LENGTH_OFF, (short) id.length);
            bb.put(ID_OFF, id);
        }
        bb.putShort(QUARANTINE_COUNT_OFF, (short) ext.quarantine().size());
        int at = QUARANTINE_OFF;
        for (Range r : ext.quarantine()) {
            bb.putLong(at, r.offset());
            bb.putLong(at + 8, r.length());
            at += QUARANTINE_ENTRY;
        }
        return b;
    }

    /** Decodes a record whose CRC was checked; null when the magic is not ours. */
    static Extension decode(byte[] b) {
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        if (bb.getLong(MAGIC_OFF) != MAGIC) {
            return null;
        }
        int idLength = Short.toUnsignedInt(bb.getShort(ID_LENGTH_OFF));
        int count = Short.toUnsignedInt(bb.getShort(QUARANTINE_COUNT_OFF));
        if (idLength > BackingIdentity.MAX_ID_BYTES || count > QUARANTINE_MAX) {
            return null;
        }
        BackingIdentity backing = null;
        if (idLength > 0) {
            byte[] id = new byte[idLength];
            bb.get(ID_OFF, id);
            backing = new BackingIdentity(bb.getLong(BACKING_SIZE_OFF), new String(id, StandardCharsets.UTF_8));
        }
        List<Range> quarantine = new ArrayList<>(count);
        int at = QUARANTINE_OFF;
        for (int i = 0; i < count; i++) {
            quarantine.add(new Range(bb.getLong(at), bb.getLong(at + 8)));
            at += QUARANTINE_ENTRY;
        }
        return new Extension(backing, List.copyOf(quarantine));
    }
}
