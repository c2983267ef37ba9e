package pcache.engine.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Version-stamped sector contents and the history of every acknowledged write per sector, so
 * that any sector read back can be judged: the newest acknowledged version, an older acknowledged
 * one (a roll-back), or bytes never written to that sector (wrong). Every write gets a version
 * number unique in the run; sector content names the version and the sector, the rest is derived
 * from both (the crash test's scheme).
 */
final class SectorHistory {

    static final int SECTOR = 512;
    /** What {@link #decode} returns for an all-zero sector. */
    static final long ZERO = -1;
    /** What {@link #decode} returns for bytes that are not any version of this sector. */
    static final long FOREIGN = -2;

    /** How a sector read back compares with its history. */
    enum Verdict {
        /** The newest acknowledged version. */
        LATEST,
        /** An older acknowledged version, or the initial zeroes: acknowledged data was lost. */
        OLDER,
        /** Neither: bytes never written to this sector, or a version it never had. */
        WRONG
    }

    private final long[][] versions;
    private final int[] counts;

    SectorHistory(long logicalBytes) {
        int sectors = (int) (logicalBytes / SECTOR);
        versions = new long[sectors][];
        counts = new int[sectors];
    }

    /** Content of {@code version} in sector {@code s}. */
    static void fillSector(ByteBuffer b, int at, long s, long version) {
        b.putLong(at, version);
        b.putLong(at + 8, s);
        SplittableRandom r = new SplittableRandom(version * 1_000_003L + s);
        for (int i = 16; i < SECTOR; i += 8) {
            b.putLong(at + i, r.nextLong());
        }
    }

    /** A buffer holding {@code version} of every sector of {@code [off, off + len)}. */
    static ByteBuffer content(long off, int len, long version) {
        ByteBuffer b = ByteBuffer.allocate(len).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < len; i += SECTOR) {
            fillSector(b, i, (off + i) / SECTOR, version);
        }
        return b;
    }

    /** The version sector {@code s} holds at {@code at} of {@code b}: a version, ZERO or FOREIGN. */
    static long decode(ByteBuffer b, int at, long s) {
        boolean zero = true;
        for (int i = 0; i < SECTOR; i += 8) {
            if (b.getLong(at + i) != 0) {
                zero = false;
                break;
            }
        }
        if (zero) {
            return ZERO;
        }
        long version = b.getLong(at);
        if (version <= 0) {
            return FOREIGN;
        }
        ByteBuffer expect = ByteBuffer.allocate(SECTOR).order(ByteOrder.LITTLE_ENDIAN);
        fillSector(expect, 0, s, version);
        for (int i = 0; i < SECTOR; i += 8) {
            if (b.getLong(at + i) != expect.getLong(i)) {
                return FOREIGN;
            }
        }
        return version;
    }

    /** Records an acknowledged write of {@code version} (zeroes when {@code zero}) over a range. */
    void acknowledged(long off, long len, long version, boolean zero) {
        for (long s = off / SECTOR; s < (off + len) / SECTOR; s++) {
            int i = (int) s;
            if (versions[i] == null) {
                versions[i] = new long[2];
            } else if (counts[i] == versions[i].length) {
                versions[i] = Arrays.copyOf(versions[i], counts[i] * 2);
            }
            versions[i][counts[i]++] = zero ? ZERO : version;
        }
    }

    /** Sectors read before any write: their initial zeroes become their first version. */
    void read(long off, long len) {
        for (long s = off / SECTOR; s < (off + len) / SECTOR; s++) {
            if (counts[(int) s] == 0) {
                acknowledged(s * SECTOR, SECTOR, 0, true);
            }
        }
    }

    boolean touched(long s) {
        return counts[(int) s] > 0;
    }

    /** The newest acknowledged version of sector {@code s} (ZERO for zeroes). */
    long latest(long s) {
        return versions[(int) s][counts[(int) s] - 1];
    }

    /** Judges what sector {@code s} read back as. */
    Verdict judge(long s, long got) {
        int i = (int) s;
        if (got == FOREIGN) {
            return Verdict.WRONG;
        }
        if (got == latest(s)) {
            return Verdict.LATEST;
        }
        if (got == ZERO) {
            return Verdict.OLDER; // the backing device's initial content, or an earlier write of zeroes
        }
        for (int k = 0; k < counts[i] - 1; k++) {
            if (versions[i][k] == got) {
                return Verdict.OLDER;
            }
        }
        return Verdict.WRONG;
    }

    /** Touched sectors as runs of at most {@code maxSectors}: {first sector, count}. */
    java.util.List<long[]> runs(int maxSectors) {
        java.util.List<long[]> runs = new java.util.ArrayList<>();
        int i = 0;
        while (i < counts.length) {
            if (counts[i] == 0) {
                i++;
                continue;
            }
            int j = i + 1;
            while (j < counts.length && counts[j] > 0 && j - i < maxSectors) {
                j++;
            }
            runs.add(new long[] {i, j - i});
            i = j;
        }
        return runs;
    }

    /** A readable history of sector {@code s}. */
    String describe(long s) {
        int i = (int) s;
        return Arrays.toString(Arrays.copyOf(versions[i], counts[i])).replace(Long.toString(ZERO), "zero");
    }
}
