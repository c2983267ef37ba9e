package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;

import pcache.api.CacheDevice;
import pcache.api.CacheMode;
import pcache.api.format.PcacheFormat;
import pcache.api.spi.BackingDevice;
import pcache.api.spi.BackingIdentity;
import pcache.api.spi.CrcProvider;
import pcache.api.spi.KeyIndexProvider;
import pcache.api.spi.PmemProvider;
import pcache.api.spi.SegmentAllocatorProvider;
import pcache.api.spi.WritebackPolicy;

/**
 * The launcher keeps pcache.api off its own class path (it is a bundle inside the framework) and
 * so repeats a few of its constants; pcache.api is a runtime dependency, hence on the test class
 * path, and this test keeps the copies honest.
 */
class ApiConsistencyTest {

    @Test
    void cacheModes() {
        assertEquals(Arrays.stream(CacheMode.values()).map(CacheMode::configName).toList(), SettingsParser.CACHE_MODES);
    }

    @Test
    void gcPercentRange() {
        assertEquals(CacheDevice.GC_PERCENT_MIN, SettingsParser.GC_PERCENT_MIN);
        assertEquals(CacheDevice.GC_PERCENT_MAX, SettingsParser.GC_PERCENT_MAX);
        assertEquals(CacheDevice.GC_PERCENT_DEFAULT, SettingsParser.GC_PERCENT_DEFAULT);
    }

    @Test
    void serviceProperties() {
        assertEquals(BackingDevice.NAME, ConfigAdminMapping.BACKING_NAME_PROPERTY);
    }

    @Test
    void partKindsNameTheSpiServicesAndTheirProperties() {
        List<CacheParts.Kind> kinds = CacheParts.KINDS;
        assertEquals(List.of(PmemProvider.class.getName(), WritebackPolicy.class.getName(),
                CrcProvider.class.getName(), KeyIndexProvider.class.getName(),
                SegmentAllocatorProvider.class.getName()), kinds.stream().map(CacheParts.Kind::service).toList());
        assertEquals(List.of(PmemProvider.TYPE, WritebackPolicy.NAME, CrcProvider.ALGORITHM, KeyIndexProvider.NAME,
                SegmentAllocatorProvider.NAME), kinds.stream().map(CacheParts.Kind::property).toList());
        assertEquals(CrcProvider.PCACHE_CRC32C, CacheParts.DEFAULTS.crc());
    }

    @Test
    void smallestCacheDevice() {
        assertEquals(PcacheFormat.CACHE_DEV_SIZE_MIN, ConfigKeys.CACHE_DEV_SIZE_MIN);
    }

    @Test
    void identityLength() {
        assertEquals(BackingIdentity.MAX_ID_BYTES, SettingsParser.MAX_IDENTITY_BYTES);
    }
}
