package pcache.engine.internal;

import java.util.ArrayList;
import java.util.List;

import pcache.api.CacheConfigurationException;
import pcache.api.CacheMode;
import pcache.api.config.CacheDefinition;
import pcache.api.config.CacheNames;
import pcache.api.config.TargetProperties;
import pcache.engine.internal.engine.EngineConfig;

/** Checks a {@link TargetConfig} and turns it into engine settings. */
final class TargetSettings {

    private TargetSettings() {
    }

    static String name(TargetConfig c) {
        return c.name() == null ? "" : c.name().trim();
    }

    /**
     * Checks {@code c} with the rules the launcher and the shell apply (pcache.api.config), plus
     * the engine's own knobs, and reports every problem at once.
     */
    static void validate(TargetConfig c) throws CacheConfigurationException {
        List<String> problems = new ArrayList<>(CacheDefinition.targetProblems(c.name() == null ? null : name(c),
                c.cache__dev(), c.cache__dev__size__bytes(), c.cache__mode(), c.gc__percent(),
                c.backing__timeout__ms()));
        if (c.streams() < 0 || c.streams() > EngineConfig.MAX_STREAMS) {
            problems.add(TargetProperties.STREAMS + "=" + c.streams() + ": expected 0 (one per CPU, at most "
                    + EngineConfig.MAX_STREAMS + ") .. " + EngineConfig.MAX_STREAMS);
        }
        if (c.kset__flush__delay__ms() < 1) {
            problems.add(TargetProperties.KSET_FLUSH_DELAY_MS + "=" + c.kset__flush__delay__ms()
                    + ": expected a positive number of milliseconds");
        }
        if (c.gc__interval__ms() < 1) {
            problems.add(TargetProperties.GC_INTERVAL_MS + "=" + c.gc__interval__ms()
                    + ": expected a positive number of milliseconds");
        }
        if (!problems.isEmpty()) {
            throw new CacheConfigurationException("cache " + (CacheNames.isValid(name(c)) ? name(c) : "'" + c.name() + "'")
                    + ": " + String.join("; ", problems));
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
