package pcache.target.internal;

import java.util.regex.Pattern;

import pcache.api.CacheConfigurationException;
import pcache.api.CacheDevice;
import pcache.api.CacheMode;
import pcache.api.format.PcacheFormat;
import pcache.target.internal.engine.EngineConfig;

/** Checks a {@link TargetConfig} and turns it into engine settings. */
final class TargetSettings {

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.-]{1,64}");

    private TargetSettings() {
    }

    static String name(TargetConfig c) {
        return c.name() == null ? "" : c.name().trim();
    }

    static void validate(TargetConfig c) throws CacheConfigurationException {
        String n = name(c);
        if (!NAME.matcher(n).matches()) {
            throw new CacheConfigurationException("name='" + c.name() + "' is not a valid cache name: expected 1-64"
                    + " letters, digits, '_', '-' or '.'");
        }
        if (c.cache__dev() == null || c.cache__dev().isBlank()) {
            throw new CacheConfigurationException("cache " + n + ": cache_dev is missing: expected the path of"
                    + " the cache device");
        }
        long size = c.cache__dev__size__bytes();
        if (size != 0 && size < PcacheFormat.CACHE_DEV_SIZE_MIN) {
            throw new CacheConfigurationException("cache " + n + ": cache_dev_size_bytes=" + size + " is too small:"
                    + " a cache device needs at least " + PcacheFormat.CACHE_DEV_SIZE_MIN + " bytes (512 MiB)");
        }
        if (c.gc__percent() < CacheDevice.GC_PERCENT_MIN || c.gc__percent() > CacheDevice.GC_PERCENT_MAX) {
            throw new CacheConfigurationException("cache " + n + ": gc_percent=" + c.gc__percent()
                    + " is out of range: expected " + CacheDevice.GC_PERCENT_MIN + ".." + CacheDevice.GC_PERCENT_MAX);
        }
        try {
            CacheMode.parse(c.cache__mode());
        } catch (IllegalArgumentException e) {
            throw new CacheConfigurationException("cache " + n + ": cache_mode: " + e.getMessage());
        }
        if (c.backing__timeout__ms() <= 0) {
            throw new CacheConfigurationException("cache " + n + ": backing_timeout_ms=" + c.backing__timeout__ms()
                    + " must be positive");
        }
        if (c.streams() < 0 || c.streams() > EngineConfig.MAX_STREAMS) {
            throw new CacheConfigurationException("cache " + n + ": streams=" + c.streams()
                    + " is out of range: expected 0 (one per CPU, at most " + EngineConfig.MAX_STREAMS + ") .. "
                    + EngineConfig.MAX_STREAMS);
        }
        if (c.kset__flush__delay__ms() < 1 || c.gc__interval__ms() < 1) {
            throw new CacheConfigurationException("cache " + n + ": kset_flush_delay_ms and gc_interval_ms must be"
                    + " positive");
        }
    }

    static CacheMode mode(TargetConfig c) {
        return CacheMode.parse(c.cache__mode());
    }

    static EngineConfig engineConfig(TargetConfig c) {
        return EngineConfig.defaults(name(c)).withDataCrc(c.data__crc()).withGcPercent(c.gc__percent())
                .withStreams(c.streams()).withKsetFlushDelayMillis(c.kset__flush__delay__ms())
                .withBackingTimeoutMillis(c.backing__timeout__ms()).withForceIdentity(c.force__identity())
                .withGcIntervalMillis(c.gc__interval__ms());
    }

    /** Whether a configuration change needs the engine re-opened. */
    static boolean needsReopen(TargetConfig a, TargetConfig b) {
        return !a.cache__dev().equals(b.cache__dev()) || a.data__crc() != b.data__crc()
                || a.streams() != b.streams() || a.kset__flush__delay__ms() != b.kset__flush__delay__ms()
                || a.gc__interval__ms() != b.gc__interval__ms() || a.force__identity() != b.force__identity();
    }
}
