package pcache.api.config;

/**
 * Property names and defaults of the NBD export's configuration (PID {@value ConfigPids#EXPORT_NBD}).
 * The launcher's configuration file spells each as {@code nbd.<property>}.
 */
public final class ExportProperties {

    /** Where to listen: {@code HOST:PORT}, {@code [IPV6]:PORT} or {@code unix:PATH}, separated by commas. */
    public static final String LISTEN = ConfigPids.EXPORT_NBD_LISTEN;
    /** TLS on the export: {@code off}, {@code on} or {@code require} ({@link ExportTlsMode}). */
    public static final String TLS = "tls";
    /** X.509 credentials: a directory with {@code server-cert.pem}, {@code server-key.pem}, optionally {@code ca-cert.pem}. */
    public static final String TLS_CERTIFICATES = "tls_certificates";
    /** Pre-shared keys: a file of {@code identity:hexkey} lines. */
    public static final String TLS_PSK_FILE = "tls_psk_file";
    /** Whether clients must present a certificate signed by {@code ca-cert.pem} ({@code true|false}). */
    public static final String TLS_VERIFY_PEER = "tls_verify_peer";
    /**
     * Allows a non-loopback {@link #LISTEN} address while clear text may be served there
     * ({@code tls=off}, or {@code on}, which serves clients that skip STARTTLS in clear text).
     */
    public static final String INSECURE_ALLOW_CLEARTEXT_NETWORK = "insecure_allow_cleartext_network";
    /**
     * On which connections READs of 64 KiB or more that hit the cache are sent straight from its
     * memory mapping: {@code on} (default since 1.5: every connection), {@code auto} (every
     * connection but a clear-text unix socket, the default of 1.4) or {@code off}.
     *
     * @since 1.4
     */
    public static final String READ_VIEWS = "read_views";

    /**
     * Declarative Services' minimum cardinality of the export's TlsProvider reference: 1 when TLS
     * is on, so the export waits for the provider instead of failing when it starts first.
     */
    public static final String TLS_PROVIDER_MINIMUM = "tlsProvider.cardinality.minimum";

    /** The listen address when none is configured: loopback only. */
    public static final String LISTEN_DEFAULT = "127.0.0.1:10809";
    /** TLS is off unless configured. */
    public static final String TLS_DEFAULT = "off";
    /** A non-loopback address needs TLS unless this is set to true. */
    public static final boolean INSECURE_ALLOW_CLEARTEXT_NETWORK_DEFAULT = false;
    /**
     * Large reads are sent from the mapping on every connection (since 1.5; 1.4 copied them over
     * clear-text unix sockets, which measured faster on one machine and slower on another).
     *
     * @since 1.4
     */
    public static final String READ_VIEWS_DEFAULT = "on";
    /** The values of {@link #READ_VIEWS}, for messages. @since 1.4 */
    public static final String READ_VIEWS_EXPECTED = "auto, on or off";
    /** The CA certificate's file name in a certificate directory; its presence turns client verification on. */
    public static final String CA_CERT_FILE = "ca-cert.pem";

    /** Every property, in documentation order. */
    public static final java.util.List<String> ALL = java.util.List.of(LISTEN, TLS, TLS_CERTIFICATES, TLS_PSK_FILE,
            TLS_VERIFY_PEER, INSECURE_ALLOW_CLEARTEXT_NETWORK, READ_VIEWS);

    private ExportProperties() {
    }
}
