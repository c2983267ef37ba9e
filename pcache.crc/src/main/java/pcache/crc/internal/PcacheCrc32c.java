package pcache.crc.internal;

import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.zip.CRC32C;
import org.osgi.service.component.annotations.Component;

import pcache.api.spi.CrcProvider;

/**
 * dm-pcache's checksum: CRC-32C with the register seeded with {@value #SEED_HEX} and no final
 * inversion, i.e. the kernel's {@code crc32c(0x3B15A, data)} (reference §2.3).
 *
 * <p>The bytes go through the JDK's intrinsified {@link CRC32C} (hardware CRC instructions), which
 * starts from 0xFFFFFFFF and inverts at the end. The CRC register is affine in its seed, so
 * <pre>
 *   R(0x3B15A, d) = R(0xFFFFFFFF, d) ^ R(0xFFFFFFFF ^ 0x3B15A, zeros(len))
 * </pre>
 * and the second term depends only on the length. It comes from a table for lengths below
 * {@value #TABLE_LENGTHS} (headers, key sets); above, that entry is multiplied by
 * x<sup>8·4096·2<sup>k</sup></sup> for each bit k of {@code length / 4096} (data extents of a
 * power-of-two size: one multiplication). Each such multiplication by a constant is linear, so it
 * is four lookups in a byte table instead of a 32-step carry-less product.
 * Even tiny inputs go through the intrinsic: a byte-table loop measured slower already at
 * 8 bytes (docs/BENCHMARKS.md).
 *
 * <p>Stateless and thread-safe; the tables are filled once and never change. Registered by
 * Declarative Services as the {@code crc32c-pcache} {@link CrcProvider}.
 */
@Component(service = CrcProvider.class, property = CrcProvider.ALGORITHM + "=" + CrcProvider.PCACHE_CRC32C)
public final class PcacheCrc32c implements CrcProvider {

    /** The register seed of every CRC in dm-pcache's format ({@code PCACHE_CRC_SEED}). */
    public static final int SEED = 0x3B15A;

    private static final String SEED_HEX = "0x3B15A";

    /** Lengths whose zero-run term is a plain table lookup; also the step of the power table. */
    static final int TABLE_LENGTHS = 4096;

    /** Difference between the JDK's start value and ours, carried through the data length. */
    private static final int SEED_DIFFERENCE = 0xFFFFFFFF ^ SEED;

    /** {@code ZERO_TERM[n] = R(SEED_DIFFERENCE, zeros(n))}. */
    private static final int[] ZERO_TERM = new int[TABLE_LENGTHS];

    /** Bits of {@code length / TABLE_LENGTHS} for any int length. */
    private static final int BLOCK_BITS = 31 - Integer.numberOfTrailingZeros(TABLE_LENGTHS);

    /**
     * Multiplication by {@code x^(8 · TABLE_LENGTHS · 2^k) mod P} as byte tables: entry
     * {@code (k << 10) + (i << 8) + v} is {@code (v << 8i) · x^(8 · TABLE_LENGTHS · 2^k)}.
     */
    private static final int[] BLOCK_OPERATOR = new int[BLOCK_BITS << 10];

    static {
        int term = SEED_DIFFERENCE;
        for (int n = 0; n < TABLE_LENGTHS; n++) {
            ZERO_TERM[n] = term;
            term = Gf2Crc32c.multiply(term, Gf2Crc32c.X8); // one more zero byte
        }
        int power = Gf2Crc32c.shiftOperator(TABLE_LENGTHS);
        for (int k = 0; k < BLOCK_BITS; k++) {
            for (int i = 0; i < 4; i++) {
                for (int v = 0; v < 256; v++) {
                    BLOCK_OPERATOR[(k << 10) + (i << 8) + v] = Gf2Crc32c.multiply(v << (8 * i), power);
                }
            }
            power = Gf2Crc32c.multiply(power, power);
        }
    }

    @Override
    public String algorithm() {
        return PCACHE_CRC32C;
    }

    @Override
    public int checksum(byte[] data, int offset, int length) {
        Objects.checkFromIndexSize(offset, length, data.length);
        CRC32C jdk = new CRC32C();
        jdk.update(data, offset, length);
        return ~(int) jdk.getValue() ^ zeroRunTerm(length);
    }

    @Override
    public int checksum(ByteBuffer data) {
        int position = data.position();
        int length = data.limit() - position;
        if (data.hasArray()) {
            return checksum(data.array(), data.arrayOffset() + position, length);
        }
        CRC32C jdk = new CRC32C();
        // a duplicate, so the caller's buffer is never touched, not even for a moment
        jdk.update(data.duplicate());
        return ~(int) jdk.getValue() ^ zeroRunTerm(length);
    }

    /**
     * {@code R(SEED_DIFFERENCE, zeros(length))}: what the seed difference becomes after the data,
     * i.e. all that this class adds to the JDK's CRC (public for the benchmarks).
     */
    public static int zeroRunTerm(int length) {
        int term = ZERO_TERM[length & (TABLE_LENGTHS - 1)];
        // kept tiny so that checksum() inlines into its callers; long inputs take the loop
        return length < TABLE_LENGTHS ? term : applyBlocks(term, length / TABLE_LENGTHS);
    }

    /** Multiplies {@code term} by x^(8 · TABLE_LENGTHS · blocks), one set bit of blocks at a time. */
    private static int applyBlocks(int term, int blocks) {
        for (; blocks != 0; blocks &= blocks - 1) {
            int table = Integer.numberOfTrailingZeros(blocks) << 10;
            term = BLOCK_OPERATOR[table + (term & 0xFF)]
                    ^ BLOCK_OPERATOR[table + 256 + ((term >>> 8) & 0xFF)]
                    ^ BLOCK_OPERATOR[table + 512 + ((term >>> 16) & 0xFF)]
                    ^ BLOCK_OPERATOR[table + 768 + (term >>> 24)];
        }
        return term;
    }

    @Override
    public String toString() {
        return "CRC-32C seeded " + SEED_HEX + ", no final inversion (" + PCACHE_CRC32C + ")";
    }
}
