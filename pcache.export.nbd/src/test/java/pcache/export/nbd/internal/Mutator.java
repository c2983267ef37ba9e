package pcache.export.nbd.internal;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import pcache.api.nbd.NbdWire;

/**
 * A small structure-unaware mutator for the fuzz slices that run without Jazzer's engine (the CI
 * slice and the socket-level fuzz): bit flips, random and "interesting" values (lengths at the
 * limits, magics), inserted, deleted, duplicated and spliced ranges, truncation. Deterministic for
 * a given {@link Random}.
 */
final class Mutator {
    /** Values that sit on the boundaries the decoder checks. */
    private static final long[] INTERESTING = {
        0, 1, -1, 0x7fff_ffffL, 0x8000_0000L, 0xffff_ffffL, 511, 512, 4096, 4097,
        SessionDriver.OTHER_BYTES, SessionDriver.DISK_BYTES, SessionDriver.DISK_BYTES - 512,
        NbdWire.MAX_PAYLOAD_BYTES, NbdWire.MAX_PAYLOAD_BYTES + 512L, 64L << 20, (64L << 20) + 1,
        NbdWire.MAX_STRING_BYTES, NbdWire.MAX_STRING_BYTES + 1, Handshake.MAX_OPTION_DATA_BYTES,
        Handshake.MAX_OPTION_DATA_BYTES + 1, NbdWire.OPTION_MAGIC, NbdWire.REQUEST_MAGIC,
        NbdWire.OPT_GO, NbdWire.OPT_EXPORT_NAME, NbdWire.OPT_STRUCTURED_REPLY, Long.MAX_VALUE,
        Long.MIN_VALUE,
    };

    private final Random random;
    private final List<byte[]> pool;
    private final int maxLength;

    /**
     * @param pool inputs to start from and splice in
     * @param maxLength longest input produced
     */
    Mutator(Random random, List<byte[]> pool, int maxLength) {
        this.random = random;
        this.pool = pool;
        this.maxLength = maxLength;
    }

    /** A mutated copy of a random pool input (1 to 8 mutations). */
    byte[] next() {
        byte[] b = pool.get(random.nextInt(pool.size())).clone();
        int mutations = 1 + random.nextInt(8);
        for (int i = 0; i < mutations; i++) {
            b = mutate(b);
        }
        return b.length > maxLength ? Arrays.copyOf(b, maxLength) : b;
    }

    private byte[] mutate(byte[] b) {
        if (b.length == 0) {
            return randomBytes(1 + random.nextInt(64));
        }
        int at = random.nextInt(b.length);
        switch (random.nextInt(9)) {
            case 0: // flip a bit
                b[at] ^= (byte) (1 << random.nextInt(8));
                return b;
            case 1: // random byte
                b[at] = (byte) random.nextInt(256);
                return b;
            case 2: // an interesting 2-, 4- or 8-byte big-endian value
            {
                int width = 2 << random.nextInt(3);
                if (at + width > b.length) {
                    return b;
                }
                long v = INTERESTING[random.nextInt(INTERESTING.length)];
                ByteBuffer w = ByteBuffer.wrap(b, at, width);
                if (width == 2) {
                    w.putShort((short) v);
                } else if (width == 4) {
                    w.putInt((int) v);
                } else {
                    w.putLong(v);
                }
                return b;
            }
            case 3: // insert random bytes
                return splice(b, at, at, randomBytes(1 + random.nextInt(32)));
            case 4: // delete a range
                return splice(b, at, Math.min(b.length, at + 1 + random.nextInt(64)), new byte[0]);
            case 5: // duplicate a range (repeated options and requests)
            {
                int end = Math.min(b.length, at + 1 + random.nextInt(256));
                return splice(b, end, end, Arrays.copyOfRange(b, at, end));
            }
            case 6: // splice in part of another input
            {
                byte[] other = pool.get(random.nextInt(pool.size()));
                if (other.length == 0) {
                    return b;
                }
                int from = random.nextInt(other.length);
                int to = Math.min(other.length, from + 1 + random.nextInt(512));
                return splice(b, at, Math.min(b.length, at + random.nextInt(64)), Arrays.copyOfRange(other, from, to));
            }
            case 7: // truncate
                return Arrays.copyOf(b, at);
            default: // a run of one byte value
            {
                int end = Math.min(b.length, at + 1 + random.nextInt(16));
                Arrays.fill(b, at, end, (byte) (random.nextBoolean() ? 0 : 0xff));
                return b;
            }
        }
    }

    private byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }

    private static byte[] splice(byte[] b, int from, int to, byte[] insert) {
        byte[] r = new byte[b.length - (to - from) + insert.length];
        System.arraycopy(b, 0, r, 0, from);
        System.arraycopy(insert, 0, r, from, insert.length);
        System.arraycopy(b, to, r, from + insert.length, b.length - to);
        return r;
    }
}
