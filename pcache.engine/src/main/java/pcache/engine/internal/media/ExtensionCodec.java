package pcache.engine.internal.media;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import pcache.api.format.PcacheFormat;
import pcache.api.format.PcacheLayout;
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
 * Field offsets: {@link PcacheLayout.Extension}.
 */
public final class ExtensionCodec {

    /** A logical range whose newest data was lost (a dirty extent that failed its CRC). */
    public record Range(long offset, long length) {
        public long end() {
            return offset + length;
        }
    }

    /** What the record holds. */
    public record Extension(BackingIdentity backing, List<Range> quarantine) {
    }

    private ExtensionCodec() {
    }

    public static byte[] encode(Extension ext) {
        if (ext.quarantine().size() > PcacheLayout.Extension.QUARANTINE_MAX) {
            throw new IllegalArgumentException("more than " + PcacheLayout.Extension.QUARANTINE_MAX + " quarantined ranges");
        }
        byte[] b = new byte[PcacheLayout.Extension.SIZE];
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        bb.putLong(PcacheLayout.Extension.MAGIC, PcacheLayout.Extension.MAGIC_VALUE);
        if (ext.backing() != null) {
            byte[] id = ext.backing().id().getBytes(StandardCharsets.UTF_8);
            bb.putLong(PcacheLayout.Extension.BACKING_SIZE, ext.backing().sizeBytes());
            bb.putShort(PcacheLayout.Extension.ID_LENGTH, (short) id.length);
            bb.put(PcacheLayout.Extension.ID, id);
        }
        bb.putShort(PcacheLayout.Extension.QUARANTINE_COUNT, (short) ext.quarantine().size());
        int at = PcacheLayout.Extension.QUARANTINE;
        for (Range r : ext.quarantine()) {
            bb.putLong(at + PcacheLayout.Extension.QUARANTINE_ENTRY_OFF, r.offset());
            bb.putLong(at + PcacheLayout.Extension.QUARANTINE_ENTRY_LEN, r.length());
            at += PcacheLayout.Extension.QUARANTINE_ENTRY;
        }
        return b;
    }

    /**
     * Decodes a record whose CRC was checked; null when the magic is not ours.
     *
     * @throws IllegalArgumentException naming the field, when the record is ours but holds what
     *         pcache never writes (its CRC matching all the same: crafted, or written by a bug)
     */
    public static Extension decode(byte[] b) {
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        if (bb.getLong(PcacheLayout.Extension.MAGIC) != PcacheLayout.Extension.MAGIC_VALUE) {
            return null;
        }
        int idLength = Short.toUnsignedInt(bb.getShort(PcacheLayout.Extension.ID_LENGTH));
        int count = Short.toUnsignedInt(bb.getShort(PcacheLayout.Extension.QUARANTINE_COUNT));
        if (idLength > PcacheLayout.Extension.ID_MAX_BYTES) {
            throw new IllegalArgumentException("an identity of " + idLength + " bytes (at most "
                    + PcacheLayout.Extension.ID_MAX_BYTES + ")");
        }
        if (count > PcacheLayout.Extension.QUARANTINE_MAX) {
            throw new IllegalArgumentException(count + " quarantined ranges (at most "
                    + PcacheLayout.Extension.QUARANTINE_MAX + ")");
        }
        BackingIdentity backing = null;
        if (idLength > 0) {
            byte[] id = new byte[idLength];
            bb.get(PcacheLayout.Extension.ID, id);
            long size = bb.getLong(PcacheLayout.Extension.BACKING_SIZE);
            if (size <= 0 || size % PcacheFormat.SECTOR != 0) {
                throw new IllegalArgumentException("a backing device of " + size
                        + " bytes (a positive multiple of " + PcacheFormat.SECTOR + " expected)");
            }
            String text;
            try {
                text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(id)).toString();
            } catch (CharacterCodingException e) {
                throw new IllegalArgumentException("an identity that is not UTF-8", e);
            }
            backing = new BackingIdentity(size, text);
        }
        List<Range> quarantine = new ArrayList<>(count);
        int at = PcacheLayout.Extension.QUARANTINE;
        for (int i = 0; i < count; i++) {
            long offset = bb.getLong(at + PcacheLayout.Extension.QUARANTINE_ENTRY_OFF);
            long length = bb.getLong(at + PcacheLayout.Extension.QUARANTINE_ENTRY_LEN);
            if (offset < 0 || length <= 0 || offset + length < 0) {
                throw new IllegalArgumentException("quarantined range " + i + " at " + offset + " of " + length
                        + " bytes");
            }
            quarantine.add(new Range(offset, length));
            at += PcacheLayout.Extension.QUARANTINE_ENTRY;
        }
        return new Extension(backing, List.copyOf(quarantine));
    }
}
