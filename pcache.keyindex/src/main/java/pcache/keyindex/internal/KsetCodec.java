package pcache.keyindex.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import pcache.api.CachePos;
import pcache.api.format.PcacheLayout.KsetHeader;
import pcache.api.spi.CacheKey;
import pcache.api.spi.CrcProvider;
import pcache.api.spi.Kset;

/**
 * The kset record (reference §2.3; fields in {@link KsetHeader}): a 24-byte header
 * {@code crc u32 | key_num or next_cache_seg_id u32 | magic u64 | flags u64 (bit 0 LAST)}
 * followed by {@code key_num} 40-byte keys. The CRC covers bytes 4 to the end of the last key
 * (bytes 4..23 for a LAST kset, which has no keys).
 */
public final class KsetCodec {

    private KsetCodec() {
    }

    /** Bytes of a kset holding {@code keys} keys. */
    public static int size(int keys) {
        return KsetHeader.size(keys);
    }

    /**
     * Finishes a kset image whose keys are already encoded at 24 + 40·i: fills the header and the
     * CRC. Returns the kset's size.
     */
    public static int sealKeys(ByteBuffer image, int keyCount, CrcProvider crc) {
        int size = size(keyCount);
        image.putInt(KsetHeader.KEY_NUM, keyCount);
        image.putLong(KsetHeader.MAGIC, KsetHeader.MAGIC_VALUE);
        image.putLong(KsetHeader.FLAGS, 0);
        image.putInt(KsetHeader.CRC, crc.checksum(image.duplicate().position(KsetHeader.CRC_START).limit(size)));
        return size;
    }

    /** A 24-byte LAST kset linking the log to key segment {@code nextSegment}. */
    public static byte[] last(int nextSegment, CrcProvider crc) {
        byte[] b = new byte[KsetHeader.SIZE];
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        bb.putInt(KsetHeader.KEY_NUM, nextSegment);
        bb.putLong(KsetHeader.MAGIC, KsetHeader.MAGIC_VALUE);
        bb.putLong(KsetHeader.FLAGS, KsetHeader.FLAG_LAST);
        bb.putInt(KsetHeader.CRC, crc.checksum(b, KsetHeader.CRC_START, KsetHeader.SIZE - KsetHeader.CRC_START));
        return b;
    }

    /** A kset of {@code keys}, complete with header and CRC (used by tests and tools). */
    public static byte[] encode(List<CacheKey> keys, CrcProvider crc) {
        byte[] b = new byte[size(keys.size())];
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < keys.size(); i++) {
            KeyCodec.encode(keys.get(i), bb, size(i));
        }
        sealKeys(bb, keys.size(), crc);
        return b;
    }

    /** What the header at a position says, before the body is read. */
    public enum HeaderCheck {
        /** A LAST kset with a valid CRC. */
        LAST,
        /** A normal kset; read {@code size(keyNum)} bytes and call {@link #decodeBody}. */
        KEYS,
        /** Not a kset: wrong magic, key count out of range, or a LAST kset with a bad CRC. */
        INVALID
    }

    /** Classifies a 24-byte header. */
    public static HeaderCheck checkHeader(ByteBuffer header, CrcProvider crc) {
        if (header.getLong(KsetHeader.MAGIC) != KsetHeader.MAGIC_VALUE) {
            return HeaderCheck.INVALID;
        }
        if ((header.getLong(KsetHeader.FLAGS) & KsetHeader.FLAG_LAST) != 0) {
            int expected = crc.checksum(header.duplicate().position(KsetHeader.CRC_START).limit(KsetHeader.SIZE));
            return expected == header.getInt(KsetHeader.CRC) ? HeaderCheck.LAST : HeaderCheck.INVALID;
        }
        int n = header.getInt(KsetHeader.KEY_NUM);
        return n >= 1 && n <= KsetHeader.KEYS_MAX ? HeaderCheck.KEYS : HeaderCheck.INVALID;
    }

    /** Key count (or next segment of a LAST kset) from a header. */
    public static int keyNumOrNext(ByteBuffer header) {
        return header.getInt(KsetHeader.KEY_NUM);
    }

    /**
     * Decodes a whole normal kset (header included, {@code size(keyNum)} bytes), or returns null
     * when its CRC does not match or its key count cannot be right.
     */
    public static Kset decodeBody(CachePos position, ByteBuffer image, CrcProvider crc) {
        int n = image.getInt(KsetHeader.KEY_NUM);
        if (n < 1 || n > KsetHeader.KEYS_MAX || size(n) > image.limit()) {
            // a count the bytes read cannot hold, read apart from the header that held it: the
            // bytes changed between the reads (a kset being written); no kset here, as for a CRC
            // that does not match (a smaller count is left to the CRC)
            return null;
        }
        int size = size(n);
        int expected = crc.checksum(image.duplicate().position(KsetHeader.CRC_START).limit(size));
        if (expected != image.getInt(KsetHeader.CRC)) {
            return null;
        }
        List<CacheKey> keys = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            keys.add(KeyCodec.decode(image, size(i)));
        }
        return new Kset(position, size, false, 0, keys);
    }
}
