package pcache.backing.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;

import pcache.api.BlockDevice;

/**
 * The expected content of one region of a device: bytes plus, per 512-byte sector, whether the
 * content is known (a trim makes it unknown until rewritten). Drives random operations against a
 * device and checks every read. One model per thread; regions of different models do not overlap.
 */
final class ModelDisk {

    private static final int SECTOR = BlockDevice.SECTOR_SIZE;

    private final BlockDevice device;
    private final long base;
    private final byte[] bytes;
    private final boolean[] known;
    private final Random random;
    private final boolean direct;

    /** A region whose initial content is all zeroes. */
    ModelDisk(BlockDevice device, long base, int length, long seed) {
        this.device = device;
        this.base = base;
        this.bytes = new byte[length];
        this.known = new boolean[length / SECTOR];
        Arrays.fill(known, true);
        this.random = new Random(seed);
        this.direct = random.nextBoolean();
    }

    /** Runs {@code count} random operations, verifying each read against the model. */
    void run(int count, int maxLength) throws IOException {
        for (int i = 0; i < count; i++) {
            int op = random.nextInt(100);
            if (op < 40) {
                write();
            } else if (op < 75) {
                read(maxLength);
            } else if (op < 82) {
                device.flush();
            } else if (op < 91) {
                zero(maxLength);
            } else {
                trim(maxLength);
            }
        }
    }

    private long[] range(int maxLength) {
        int sectors = known.length;
        int length = (1 + random.nextInt(Math.max(1, maxLength / SECTOR))) * SECTOR;
        length = Math.min(length, sectors * SECTOR);
        int start = random.nextInt(sectors - length / SECTOR + 1) * SECTOR;
        return new long[] {start, length};
    }

    private void write() throws IOException {
        long[] r = range(64 * 1024);
        byte[] data = new byte[(int) r[1]];
        random.nextBytes(data);
        ByteBuffer src;
        if (direct) {
            src = ByteBuffer.allocateDirect(data.length).put(data).flip();
        } else { // a heap buffer whose position is not 0
            src = ByteBuffer.allocate(data.length + 7).position(7);
            src.put(data).position(7);
        }
        device.write(base + r[0], src, random.nextInt(4) == 0);
        assertEquals(src.limit(), src.position(), "write consumes the buffer");
        System.arraycopy(data, 0, bytes, (int) r[0], data.length);
        Arrays.fill(known, (int) r[0] / SECTOR, (int) (r[0] + r[1]) / SECTOR, true);
    }

    private void zero(int maxLength) throws IOException {
        long[] r = range(maxLength);
        device.writeZeroes(base + r[0], r[1], random.nextBoolean());
        Arrays.fill(bytes, (int) r[0], (int) (r[0] + r[1]), (byte) 0);
        Arrays.fill(known, (int) r[0] / SECTOR, (int) (r[0] + r[1]) / SECTOR, true);
    }

    private void trim(int maxLength) throws IOException {
        long[] r = range(maxLength);
        device.trim(base + r[0], r[1]);
        Arrays.fill(known, (int) r[0] / SECTOR, (int) (r[0] + r[1]) / SECTOR, false);
    }

    private void read(int maxLength) throws IOException {
        long[] r = range(maxLength);
        verify(r[0], (int) r[1]);
    }

    /** Reads {@code [start, +length)} of the region and compares the known sectors. */
    void verify(long start, int length) throws IOException {
        ByteBuffer dst = ByteBuffer.allocate(length);
        device.read(base + start, dst);
        assertEquals(length, dst.position(), "read fills the buffer");
        byte[] got = dst.array();
        for (int s = 0; s < length / SECTOR; s++) {
            int at = (int) start + s * SECTOR;
            if (known[at / SECTOR] && !Arrays.equals(got, s * SECTOR, (s + 1) * SECTOR, bytes, at,
                    at + SECTOR)) {
                fail("content differs in sector at device offset " + (base + at));
            }
        }
    }

    void verifyAll() throws IOException {
        verify(0, bytes.length);
    }
}
