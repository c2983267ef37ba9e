package pcache.launcher;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.logging.Level;

import pcache.api.config.CacheDefinition;
import pcache.api.config.ExportDefinition;
import pcache.api.config.HealthProperties;

/**
 * The validated configuration of one pcache process.
 *
 * @param dataDir absolute data directory: relative paths, the framework cache and the control
 *        socket live here
 * @param export the NBD export: listen addresses, TLS (the {@code nbd.*} keys)
 * @param logLevel the java.util.logging level
 * @param caches the configured caches, sorted by name
 * @param http where the HTTP service listens; empty: no HTTP service (the key is absent)
 * @param dirtyWarnPercent the dirty-data health check's threshold, a percentage of a cache's data
 *        capacity (the health checks run with the HTTP service only)
 */
public record PcacheSettings(Path dataDir, ExportDefinition export, Level logLevel, List<CacheDefinition> caches,
        Optional<HttpListen> http, int dirtyWarnPercent) {

    /** File name of the control socket inside {@link #dataDir}. */
    public static final String CONTROL_SOCKET = "pcache.ctl";

    public PcacheSettings {
        caches = List.copyOf(caches);
    }

    /** Settings without HTTP. */
    public PcacheSettings(Path dataDir, ExportDefinition export, Level logLevel, List<CacheDefinition> caches) {
        this(dataDir, export, logLevel, caches, Optional.empty());
    }

    /** Settings with the default health thresholds. */
    public PcacheSettings(Path dataDir, ExportDefinition export, Level logLevel, List<CacheDefinition> caches,
            Optional<HttpListen> http) {
        this(dataDir, export, logLevel, caches, http, HealthProperties.DIRTY_WARN_PERCENT_DEFAULT);
    }

    /** The NBD listen addresses, comma-separated: {@code HOST:PORT} or {@code unix:/absolute/path}. */
    public String nbdListen() {
        return String.join(",", export.listen());
    }

    /** Where the control socket of this instance lives. */
    public Path controlSocket() {
        return dataDir.resolve(CONTROL_SOCKET);
    }

    /** Where the OSGi framework keeps its storage (cleaned at every start). */
    public Path frameworkStorage() {
        return dataDir.resolve("felix-cache");
    }
}
