package pcache.api;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

import pcache.api.format.PcacheFormat;

/** The derived values of {@link CacheStatistics}: capacity and dirty share. */
class CacheStatisticsTest {

    private static CacheStatistics with(long dirtyBytes, long segmentsTotal) {
        return new CacheStatistics(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, dirtyBytes, 0, 0, segmentsTotal, 0, 0, 0, 0, 0,
                0, 0, 0, 0);
    }

    @Test
    void capacityIsTheDataPartOfEverySegmentAndDirtyShareRefersToIt() {
        CacheStatistics s = with(PcacheFormat.SEG_DATA_SIZE, 4);
        assertEquals(4L * PcacheFormat.SEG_DATA_SIZE, s.capacityBytes());
        assertEquals(25.0, s.dirtyPercent(), 1e-9);
        assertEquals(0.0, with(0, 4).dirtyPercent());
        assertEquals(0.0, with(4096, 0).dirtyPercent(), "no segments, no share");
    }
}
