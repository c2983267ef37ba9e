package pcache.crc.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import pcache.api.spi.CrcProvider;
import pcache.testkit.KernelFixtures;

class PcacheCrc32cTest {

    private static final String KERNEL_CACHE_DEVICE = "dirty-nocrc/cachedev.img.gz";

    private final PcacheCrc32c crc = new PcacheCrc32c();

    @Test
    void namesTheAlgorithmCachesSelect() {
        assertEquals(CrcProvider.PCACHE_CRC32C, crc.algorithm());
        assertEquals("crc32c-pcache", crc.algorithm());
    }

    @Test
    void emptyInputIsTheSeed() {
        assertEquals(0x3B15A, crc.checksum(new byte[0], 0, 0));
        assertEquals(0x3B15A, crc.checksum(ByteBuffer.allocate(0)));
        assertEquals(0x3B15A, crc.checksum(ByteBuffer.allocateDirect(0)));
    }

    /** Values pinned from the bit-by-bit definition (computed independently of this code). */
    @Test
    void fixedVectors() {
        assertEquals(0xA96AE13B, crc.checksum("a".getBytes(StandardCharsets.US_ASCII), 0, 1));
        assertEquals(0xE5868AB2, crc.checksum("123456789".getBytes(StandardCharsets.US_ASCII), 0, 9));
        assertEquals(0x67249591, crc.checksum(new byte[32], 0, 32));
        byte[] counting = new byte[4096];
        for (int i = 0; i < counting.length; i++) {
            counting[i] = (byte) i;
        }
        assertEquals(0x64BDCE0A, crc.checksum(counting, 0, counting.length));
        assertEquals(0x64BDCE0A, crc.checksum(ByteBuffer.wrap(counting)));
    }

    @Test
    void everyLengthUpTo10000AtRandomOffsetsMatchesTheDefinition() {
        SplittableRandom random = new SplittableRandom(0x5eed);
        byte[] data = new byte[10_000 + 64];
        for (int length = 0; length <= 10_000; length++) {
            if (length > 600 && length % 7 != 0 && !nearTableBoundary(length)) {
                continue; // every length up to 600, a sample above, and all lengths near 4096·k
            }
            fill(random, data);
            int offset = random.nextInt(data.length - length + 1);
            assertEquals(BitwiseCrc32c.pcache(data, offset, length),
                    crc.checksum(data, offset, length), "length " + length + " at " + offset);
        }
    }

    @Test
    void largeInputsMatchTheDefinition() {
        SplittableRandom random = new SplittableRandom(42);
        for (int length : new int[] {1 << 16, (1 << 20) + 13, 4 << 20, (4 << 20) + 4095}) {
            byte[] data = new byte[length + 3];
            fill(random, data);
            assertEquals(BitwiseCrc32c.pcache(data, 3, length), crc.checksum(data, 3, length),
                    "length " + length);
        }
    }

    @Test
    void buffersOfEveryKindGiveTheArrayResultAndKeepTheirPosition() {
        SplittableRandom random = new SplittableRandom(7);
        for (int round = 0; round < 400; round++) {
            int length = round < 40 ? round : random.nextInt(10_000);
            int pad = random.nextInt(64);
            byte[] bytes = new byte[pad + length + random.nextInt(64)];
            fill(random, bytes);
            int expected = BitwiseCrc32c.pcache(bytes, pad, length);

            ByteBuffer heap = ByteBuffer.wrap(bytes);
            ByteBuffer direct = ByteBuffer.allocateDirect(bytes.length);
            direct.put(bytes).clear();
            for (ByteBuffer whole : new ByteBuffer[] {heap, direct}) {
                ByteBuffer positioned = whole.duplicate().position(pad).limit(pad + length);
                assertChecksumKeepsPosition(expected, positioned);
                assertChecksumKeepsPosition(expected, whole.slice(pad, length));
                assertChecksumKeepsPosition(expected, positioned.asReadOnlyBuffer());
                assertChecksumKeepsPosition(expected,
                        positioned.duplicate().order(ByteOrder.LITTLE_ENDIAN));
            }
        }
    }

    private void assertChecksumKeepsPosition(int expected, ByteBuffer buffer) {
        int position = buffer.position();
        int limit = buffer.limit();
        assertEquals(expected, crc.checksum(buffer), buffer.toString());
        assertEquals(position, buffer.position());
        assertEquals(limit, buffer.limit());
    }

    @Test
    void zeroRunTermMatchesRunningTheRegisterOverZeros() {
        int seedDifference = 0xFFFFFFFF ^ 0x3B15A;
        for (int length : new int[] {0, 1, 4095, 4096, 4097, 8192, 12_289, 1 << 20, 16 << 20}) {
            assertEquals(BitwiseCrc32c.crc(seedDifference, new byte[length], 0, length),
                    PcacheCrc32c.zeroRunTerm(length), "length " + length);
        }
    }

    @Test
    void rejectsRangesOutsideTheArray() {
        assertThrows(IndexOutOfBoundsException.class, () -> crc.checksum(new byte[10], 5, 6));
        assertThrows(IndexOutOfBoundsException.class, () -> crc.checksum(new byte[10], -1, 2));
    }

    /** The superblock the Linux kernel wrote: its CRC covers bytes 4..23 at device offset 4 KiB. */
    @Test
    void matchesTheSuperblockCrcWrittenByTheKernel() throws IOException {
        byte[] head;
        try (InputStream in = KernelFixtures.open(KERNEL_CACHE_DEVICE)) {
            head = in.readNBytes(8192);
        }
        assertEquals(8192, head.length);
        int stored = ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN).getInt(4096);
        assertEquals(stored, crc.checksum(head, 4100, 20));
        assertEquals(stored, crc.checksum(ByteBuffer.wrap(head, 4100, 20)));
    }

    @Property(tries = 300)
    void arraysMatchTheDefinition(@ForAll @Size(max = 3000) byte[] data,
            @ForAll @IntRange(min = 0, max = 3000) int cut) {
        int offset = Math.min(cut, data.length);
        int length = data.length - offset;
        assertEquals(BitwiseCrc32c.pcache(data, offset, length), crc.checksum(data, offset, length));
    }

    @Property(tries = 300)
    void zeroRunTermOfAnyLengthIsTheSeedDifferenceTimesItsShift(
            @ForAll @IntRange(min = 0, max = Integer.MAX_VALUE) int length) {
        int seedDifference = 0xFFFFFFFF ^ 0x3B15A;
        assertEquals(Gf2Crc32c.multiply(seedDifference, Gf2Crc32c.shiftOperator(length)),
                PcacheCrc32c.zeroRunTerm(length));
    }

    @Property(tries = 200)
    void multiplicationIsCommutativeWithOneAsIdentity(@ForAll int a, @ForAll int b) {
        assertEquals(Gf2Crc32c.multiply(a, b), Gf2Crc32c.multiply(b, a));
        assertEquals(a, Gf2Crc32c.multiply(a, Gf2Crc32c.ONE));
    }

    private static boolean nearTableBoundary(int length) {
        int rest = length % PcacheCrc32c.TABLE_LENGTHS;
        return rest < 3 || rest > PcacheCrc32c.TABLE_LENGTHS - 3;
    }

    private static void fill(SplittableRandom random, byte[] data) {
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) random.nextInt();
        }
    }
}
