package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.AssertionFailedError;

/**
 * The in-flight check of ProcessKillIT accepts a sector's previous content and the versions the
 * writer of the cycle put on that sector, and refuses everything else. The sectors are made here
 * as sector_versions.py makes them.
 */
class InFlightRangeTest {

    private static final long BASE = 1 << 20;
    private static final int LENGTH = 4 * InFlightRange.BLOCK;
    private static final int SECTOR = InFlightRange.SECTOR;

    @TempDir
    Path dir;

    private InFlightRange range;
    private int[] plan;
    private byte[] device;

    @BeforeEach
    void firstCycle() {
        range = new InFlightRange(BASE, LENGTH, dir);
        plan = range.newCycle(7, new Random(1));
        range.submitted(3);
        device = new byte[LENGTH];
    }

    /** A sector as the writer makes it: 16 copies of <"PCKILLv1", sector, cycle, serial>. */
    private static byte[] sector(long sector, long cycle, long serial) {
        ByteBuffer b = ByteBuffer.allocate(SECTOR).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            b.put("PCKILLv1".getBytes(StandardCharsets.US_ASCII)).putLong(sector).putLong(cycle).putLong(serial);
        }
        return b.array();
    }

    /** Puts write {@code serial}'s version of the sector at {@code indexInBlock} of its block. */
    private int putVersion(long serial, int indexInBlock) {
        int at = plan[(int) serial] * InFlightRange.BLOCK + indexInBlock * SECTOR;
        System.arraycopy(sector((BASE + at) / SECTOR, 7, serial), 0, device, at, SECTOR);
        return at;
    }

    @Test
    void previousContentAndWrittenVersionsPass() {
        putVersion(0, 0);
        putVersion(2, 127);
        InFlightRange.Check check = range.check(device.clone());
        assertEquals(2, check.newVersions());
        assertEquals(LENGTH / SECTOR - 2, check.unchanged());
        // the next check compares with what this one read
        assertEquals(LENGTH / SECTOR, range.check(device.clone()).unchanged());
    }

    @Test
    void aVersionOfAnotherSectorFails() {
        int at = putVersion(1, 5);
        System.arraycopy(device, at, device, at + SECTOR, SECTOR); // sector 6 holds sector 5's bytes
        assertRefused("it names sector");
    }

    @Test
    void aTornSectorFails() {
        int at = putVersion(0, 3);
        byte[] other = sector((BASE + at) / SECTOR, 7, 1);
        System.arraycopy(other, 256, device, at + 256, 256); // half of another version
        assertRefused("records differ");
    }

    @Test
    void aWriteThatNeverWentThereOrWasNeverSubmittedFails() {
        putVersion(0, 0);
        int otherBlock = Arrays.stream(new int[] {0, 1, 2, 3}).filter(b -> b != plan[0]).findFirst().orElseThrow();
        int wrong = otherBlock * InFlightRange.BLOCK;
        System.arraycopy(sector((BASE + wrong) / SECTOR, 7, 0), 0, device, wrong, SECTOR);
        assertRefused("went to block");

        firstCycle();
        int late = plan[5] * InFlightRange.BLOCK;
        System.arraycopy(sector((BASE + late) / SECTOR, 7, 5), 0, device, late, SECTOR);
        assertRefused("never submitted");
    }

    @Test
    void aSectorBackToWhatTheLastCheckReplacedFails() {
        putVersion(0, 0);
        range.check(device.clone());
        range.newCycle(8, new Random(2));
        range.submitted(3);
        device = new byte[LENGTH]; // the sector lost the version the last check read
        assertRefused("no writer's record");
    }

    @Test
    void aVersionOfAnEarlierCycleFails() {
        range = new InFlightRange(BASE, LENGTH, dir);
        range.check(device.clone()); // all zeroes: as before
        range.newCycle(8, new Random(2));
        range.submitted(3);
        putVersion(0, 0); // made with the plan and the number of cycle 7
        assertRefused("written in cycle 7");
    }

    private void assertRefused(String reason) {
        AssertionFailedError e = assertThrows(AssertionFailedError.class, () -> range.check(device.clone()));
        assertTrue(e.getMessage().contains(reason), e.getMessage());
    }
}
