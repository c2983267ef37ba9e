package pcache.launcher;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import pcache.api.config.CacheDefinition;
import pcache.api.config.ConfigPids;
import pcache.api.config.HealthProperties;
import pcache.api.config.HttpProperties;

/**
 * Turns {@link PcacheSettings} into ConfigAdmin configurations: per cache the backing device's
 * and the cache's (their dictionaries are {@link CacheDefinition#backingProperties()} and
 * {@link CacheDefinition#targetProperties()}, the very ones {@code pcache:create} makes), and
 * one configuration of the NBD export, PID {@value ConfigPids#EXPORT_NBD}, whose dictionary is
 * {@link pcache.api.config.ExportDefinition#properties()}. With the HTTP service also the health
 * checks' configurations: pcache's own ({@value HealthProperties#PID}) and Felix Health Checks'
 * executor, so that {@code hc:exec} runs the checks tagged {@code pcache} (see
 * {@link HealthEndpoint}); the servlet's comes later ({@link #afterPcacheBundles}); and the Web
 * Console's and its login's ({@link WebConsole}).
 */
public final class ConfigAdminMapping {

    private ConfigAdminMapping() {
    }

    /** Every configuration of {@code settings}: per cache its backing device then its target, then the export. */
    public static List<ConfigurationRecord> map(PcacheSettings settings) {
        List<ConfigurationRecord> records = new ArrayList<>();
        for (CacheDefinition cache : settings.caches()) {
            records.add(backing(cache));
            records.add(target(cache));
        }
        records.add(new ConfigurationRecord(ConfigPids.EXPORT_NBD, Optional.empty(), settings.export().properties()));
        if (settings.http().isPresent()) {
            records.add(new ConfigurationRecord(HealthProperties.PID, Optional.empty(),
                    Map.of(HealthProperties.DIRTY_WARN_PERCENT, settings.dirtyWarnPercent())));
            records.add(HealthEndpoint.executor());
            records.add(WebConsole.manager());
            records.add(WebConsole.provider(settings.consoleCredentialsFile()));
            records.add(new ConfigurationRecord(HttpProperties.PID, Optional.empty(),
                    Map.of(HttpProperties.ALLOWED_HOSTS, settings.httpAllowedHosts().toArray(String[]::new))));
        }
        return records;
    }

    /**
     * The configurations to apply once pcache's bundles run: with the HTTP service, Felix HC's
     * servlet at {@value HealthEndpoint#PATH}. Its configuration comes after pcache.health's checks
     * are registered, so the endpoint never answers before them (it would answer 200 for no checks
     * at all).
     */
    public static List<ConfigurationRecord> afterPcacheBundles(PcacheSettings settings) {
        return settings.http().isPresent() ? List.of(HealthEndpoint.servlet()) : List.of();
    }

    static ConfigurationRecord backing(CacheDefinition cache) {
        return new ConfigurationRecord(cache.backing().pid(), Optional.of(cache.backingName()),
                cache.backingProperties());
    }

    static ConfigurationRecord target(CacheDefinition cache) {
        return new ConfigurationRecord(ConfigPids.TARGET, Optional.of(cache.name()), cache.targetProperties());
    }
}
