package pcache.backing.nbd.internal;

import java.time.Duration;
import java.util.Map;

/**
 * Everything an {@link NbdBackingDevice} needs to know, validated.
 *
 * @param name the configured device name (for messages and thread names)
 * @param uri where the export lives
 * @param identityLabel explicit identity of the export's content, or "" to derive it from the URI
 * @param connectTimeout bound on connecting plus the handshake, per attempt
 * @param ioTimeout bound on one request, including time spent waiting for a reconnect;
 *        {@link Duration#ZERO} waits forever
 * @param reconnectInitialBackoff pause after the first failed reconnect attempt
 * @param reconnectMaxBackoff the pause doubles after every failed attempt up to this
 * @param tls how TLS is used: set exactly when the URI is {@code nbds://} or
 *        {@code nbds+unix://}, else null
 */
public record NbdSettings(String name, NbdUri uri, String identityLabel, Duration connectTimeout,
        Duration ioTimeout, Duration reconnectInitialBackoff, Duration reconnectMaxBackoff,
        NbdTlsOptions tls) {

    /** Defaults of the configuration attributes. */
    public static final long DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
    public static final long DEFAULT_IO_TIMEOUT_MS = 60_000;
    public static final long DEFAULT_RECONNECT_INITIAL_BACKOFF_MS = 100;
    public static final long DEFAULT_RECONNECT_MAX_BACKOFF_MS = 5_000;

    /** @throws IllegalArgumentException naming the bad setting and its value */
    public NbdSettings {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("NBD backing device needs a non-empty name");
        }
        if (uri == null) {
            throw new IllegalArgumentException(name + ": NBD backing device needs a uri");
        }
        if (uri.tls() != (tls != null)) {
            throw new IllegalArgumentException(name + ": " + (uri.tls() ? uri.location()
                    + " needs TLS options" : "TLS options for the clear-text " + uri));
        }
        identityLabel = identityLabel == null ? "" : identityLabel.trim();
        requirePositive(name, "connect_timeout_ms", connectTimeout);
        if (ioTimeout == null || ioTimeout.isNegative()) {
            throw new IllegalArgumentException(name + ": io_timeout_ms must be >= 0 (0 = wait "
                    + "forever), got " + millis(ioTimeout));
        }
        requirePositive(name, "reconnect_initial_backoff_ms", reconnectInitialBackoff);
        requirePositive(name, "reconnect_max_backoff_ms", reconnectMaxBackoff);
        String id = identityLabel.isEmpty() ? "nbd:" + uri.identityText() : identityLabel;
        if (id.getBytes(java.nio.charset.StandardCharsets.UTF_8).length
                > pcache.api.spi.BackingIdentity.MAX_ID_BYTES) {
            throw new IllegalArgumentException(name + ": the backing identity '" + id + "' is longer "
                    + "than " + pcache.api.spi.BackingIdentity.MAX_ID_BYTES + " bytes; set a "
                    + "shorter identity label");
        }
        if (reconnectMaxBackoff.compareTo(reconnectInitialBackoff) < 0) {
            throw new IllegalArgumentException(name + ": reconnect_max_backoff_ms ("
                    + reconnectMaxBackoff.toMillis() + ") is smaller than "
                    + "reconnect_initial_backoff_ms (" + reconnectInitialBackoff.toMillis() + ")");
        }
    }

    /** Settings with the default timeouts and back-off. */
    public static NbdSettings of(String name, String uri) {
        return of(name, uri, "", DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_IO_TIMEOUT_MS,
                DEFAULT_RECONNECT_INITIAL_BACKOFF_MS, DEFAULT_RECONNECT_MAX_BACKOFF_MS);
    }

    /** Settings from configuration values in milliseconds; parses the URI. */
    public static NbdSettings of(String name, String uri, String identityLabel,
            long connectTimeoutMs, long ioTimeoutMs, long initialBackoffMs, long maxBackoffMs) {
        return of(name, uri, identityLabel, connectTimeoutMs, ioTimeoutMs, initialBackoffMs,
                maxBackoffMs, Map.of());
    }

    /**
     * Settings from configuration values in milliseconds; parses the URI and merges its TLS
     * parameters with the TLS configuration keys {@code tlsKeys} (see {@link NbdTlsOptions}).
     */
    public static NbdSettings of(String name, String uri, String identityLabel,
            long connectTimeoutMs, long ioTimeoutMs, long initialBackoffMs, long maxBackoffMs,
            Map<NbdTlsOptions.Key, String> tlsKeys) {
        String prefix = name == null ? "" : name + ": ";
        NbdUri parsed;
        try {
            parsed = NbdUri.parse(uri);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(prefix + e.getMessage(), e);
        }
        NbdTlsOptions tls;
        try {
            tls = NbdTlsOptions.of(parsed.tls(), parsed.tlsParameters(), tlsKeys);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(prefix + parsed.location() + ": " + e.getMessage(),
                    e);
        }
        return new NbdSettings(name, parsed, identityLabel, Duration.ofMillis(connectTimeoutMs),
                Duration.ofMillis(ioTimeoutMs), Duration.ofMillis(initialBackoffMs),
                Duration.ofMillis(maxBackoffMs), tls);
    }

    /** Settings with a different request timeout. */
    public NbdSettings withIoTimeout(Duration timeout) {
        return new NbdSettings(name, uri, identityLabel, connectTimeout, timeout,
                reconnectInitialBackoff, reconnectMaxBackoff, tls);
    }

    /** Settings with a different back-off. */
    public NbdSettings withBackoff(Duration initial, Duration max) {
        return new NbdSettings(name, uri, identityLabel, connectTimeout, ioTimeout, initial, max,
                tls);
    }

    /** Settings with a different connect timeout. */
    public NbdSettings withConnectTimeout(Duration timeout) {
        return new NbdSettings(name, uri, identityLabel, timeout, ioTimeout,
                reconnectInitialBackoff, reconnectMaxBackoff, tls);
    }

    /** Settings with an explicit identity label. */
    public NbdSettings withIdentityLabel(String label) {
        return new NbdSettings(name, uri, label, connectTimeout, ioTimeout,
                reconnectInitialBackoff, reconnectMaxBackoff, tls);
    }

    /**
     * The identity id: the label if configured, else {@code nbd:} + the normalised URI spelled
     * without TLS ({@link NbdUri#identityText()}), so that switching to TLS keeps the identity.
     */
    public String identityId() {
        return identityLabel.isEmpty() ? "nbd:" + uri.identityText() : identityLabel;
    }

    private static void requirePositive(String name, String attribute, Duration value) {
        if (value == null || value.isZero() || value.isNegative()) {
            throw new IllegalArgumentException(name + ": " + attribute + " must be > 0, got "
                    + millis(value));
        }
    }

    private static String millis(Duration d) {
        return d == null ? "null" : Long.toString(d.toMillis());
    }
}
