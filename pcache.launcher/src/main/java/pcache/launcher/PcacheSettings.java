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
 * @param consoleCredentials the Web Console's credentials file ({@code http.console_credentials});
 *        empty: {@link #CONSOLE_CREDENTIALS} in the data directory, generated at the first start
 * @param httpAllowedHosts further names a request on a loopback address may be sent to
 *        ({@code http.allowed_hosts}), lower case
 */
public record PcacheSettings(Path dataDir, ExportDefinition export, Level logLevel, List<CacheDefinition> caches,
        Optional<HttpListen> http, int dirtyWarnPercent, Optional<Path> consoleCredentials,
        List<String> httpAllowedHosts) {

    /** File name of the control socket inside {@link #dataDir}. */
    public static final String CONTROL_SOCKET = "pcache.ctl";
    /** File name of the generated Web Console credentials inside {@link #dataDir}. */
    public static final String CONSOLE_CREDENTIALS = "console-credentials";

    public PcacheSettings {
        caches = List.copyOf(caches);
        httpAllowedHosts = List.copyOf(httpAllowedHosts);
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

    /** Settings with the generated Web Console credentials. */
    public PcacheSettings(Path dataDir, ExportDefinition export, Level logLevel, List<CacheDefinition> caches,
            Optional<HttpListen> http, int dirtyWarnPercent) {
        this(dataDir, export, logLevel, caches, http, dirtyWarnPercent, Optional.empty());
    }

    /** Settings where only addresses and localhost names reach the HTTP service on loopback. */
    public PcacheSettings(Path dataDir, ExportDefinition export, Level logLevel, List<CacheDefinition> caches,
            Optional<HttpListen> http, int dirtyWarnPercent, Optional<Path> consoleCredentials) {
        this(dataDir, export, logLevel, caches, http, dirtyWarnPercent, consoleCredentials, List.of());
    }

    /** The Web Console's credentials file: the configured one, else the generated one in the data directory. */
    public Path consoleCredentialsFile() {
        return consoleCredentials.orElse(dataDir.resolve(CONSOLE_CREDENTIALS));
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
