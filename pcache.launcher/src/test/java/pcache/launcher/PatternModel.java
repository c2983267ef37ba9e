package pcache.launcher;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * What a device region must contain after a sequence of acknowledged pattern writes (each byte
 * of a write is the same value, as qemu-io's {@code write -P}): the expected bytes, the qemu-io
 * commands that write them and the commands that check every byte of the region.
 */
final class PatternModel {

    /** One pattern write: {@code length} bytes of {@code pattern} at {@code offset}. */
    record PatternWrite(long offset, int length, int pattern) {
        String qemuIoWrite() {
            return pattern == 0 ? "write -z " + offset + " " + length
                    : String.format("write -P 0x%02x %d %d", pattern, offset, length);
        }
    }

    private final long base;
    private final byte[] expected;

    /** A model of {@code [base, base + length)}, all zeroes at first (a fresh backing file). */
    PatternModel(long base, int length) {
        this.base = base;
        this.expected = new byte[length];
    }

    /** Records an acknowledged write. */
    void apply(PatternWrite write) {
        int from = Math.toIntExact(write.offset() - base);
        Arrays.fill(expected, from, from + write.length(), (byte) write.pattern());
    }

    /**
     * {@code count} random writes inside the region: 512-byte aligned, 512 B .. 256 KiB, random
     * non-repeating patterns (about one in eight writes zeroes).
     */
    List<PatternWrite> randomWrites(Random random, int count) {
        List<PatternWrite> writes = new ArrayList<>();
        int sectors = expected.length / 512;
        for (int i = 0; i < count; i++) {
            int lengthSectors = 1 + random.nextInt(Math.min(512, sectors));
            int startSector = random.nextInt(sectors - lengthSectors + 1);
            int pattern = random.nextInt(8) == 0 ? 0 : 1 + random.nextInt(255);
            writes.add(new PatternWrite(base + startSector * 512L, lengthSectors * 512, pattern));
        }
        return writes;
    }

    /** qemu-io {@code -c} arguments that check every byte of the region against the model. */
    List<String> qemuIoChecks() {
        List<String> commands = new ArrayList<>();
        int start = 0;
        for (int i = 1; i <= expected.length; i++) {
            if (i == expected.length || expected[i] != expected[start]) {
                commands.add(String.format("read -P 0x%02x %d %d", expected[start] & 0xff, base + start, i - start));
                start = i;
            }
        }
        return commands;
    }

    /** The expected bytes of the region. */
    byte[] expected() {
        return expected.clone();
    }

    long base() {
        return base;
    }

    int length() {
        return expected.length;
    }
}
