package pcache.engine.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import pcache.api.CacheConfigurationException;
import pcache.api.CacheMode;
import pcache.api.config.CacheDefinition;
import pcache.api.config.CacheNames;
import pcache.api.config.TypedProperties;
import pcache.engine.internal.engine.EngineConfig;

/** Checks a {@link TargetConfig} and turns it into engine settings. */
final class TargetSettings {

    private TargetSettings() {
    }

    static String name(TargetConfig c) {
        return c.name() == null ? "" : c.name().trim();
    }

    /**
     * Checks the raw values of {@code properties} against {@link TargetConfig}'s types first
     * ({@link TypedProperties}: a string {@code data_crc = yes} would read as false), then
     * {@link #validate(TargetConfig)}.
     */
    static void validate(TargetConfig c, Map<String, ?> properties) throws CacheConfigurationException {
        List<String> problems = TypedProperties.problems(TargetConfig.class, properties);
        if (!problems.isEmpty()) {
            throw new CacheConfigurationException("cache " + (CacheNames.isValid(name(c)) ? name(c) : "'" + c.name() + "'")
                    + ": " + String.join("; ", problems));
        }
        validate(c);
    }

    /**
     * Checks {@code c} with the rules the launcher and the shell apply (pcache.api.config), plus
     * the engine's own knobs, and reports every problem at once.
     */
    static void validate(TargetConfig c) throws CacheConfigurationException {
        List<String> problems = new ArrayList<>(CacheDefinition.targetProblems(c.name() == null ? null : name(c),
                c.cache__dev(), c.cache__dev__size__bytes(), c.cache__mode(), c.gc__percent(),
                c.backing__timeout__ms()));
        problems.addAll(CacheDefinition.tuningProblems(c.streams(), c.kset__flush__delay__ms(), c.gc__interval__ms()));
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

    /**
     * Why {@code now} cannot be applied to a cache running with {@code was}, or null. A new cache
     * device would be opened (or formatted) without the data not yet written back, which lives on
     * the old one: the running cache would lose acknowledged writes.
     */
    static String runtimeChangeProblem(TargetConfig was, TargetConfig now) {
        if (!name(was).equals(name(now))) {
            // the service, its MBean and its metrics keep the name they were published with
            return "name cannot change while the cache runs (from " + name(was) + " to " + name(now) + "): its"
                    + " service, statistics and export keep the old one. To rename a cache: remove it and create it"
                    + " again under the new name (its cache device and backing device stay as they are)";
        }
        if (!was.cache__dev().equals(now.cache__dev())) {
            return "cache_dev cannot change while the cache runs (from " + was.cache__dev() + " to "
                    + now.cache__dev() + "): data not yet written back lives on the old device, and the new one"
                    + " would be opened without it. To move the cache: set cache_mode=passthrough (which writes"
                    + " everything back), then remove the cache and create it again on the new device";
        }
        return null;
    }

    /** Whether a configuration change needs the engine re-opened. */
    static boolean needsReopen(TargetConfig a, TargetConfig b) {
        return !a.cache__dev().equals(b.cache__dev()) || a.data__crc() != b.data__crc()
                || a.streams() != b.streams() || a.kset__flush__delay__ms() != b.kset__flush__delay__ms()
                || a.gc__interval__ms() != b.gc__interval__ms() || a.force__identity() != b.force__identity();
    }
}
