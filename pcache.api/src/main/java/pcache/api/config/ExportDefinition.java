package pcache.api.config;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import pcache.api.tls.TlsSettings;

/**
 * The NBD export's configuration, validated: what the configuration file's {@code nbd.*} keys or
 * the export component's ConfigAdmin properties ({@link ExportProperties}) say, checked by the
 * same rules with the same messages wherever it enters.
 *
 * <p>The rules besides each value's syntax: {@code tls=on} and {@code tls=require} need exactly one
 * kind of credentials (a certificate directory or a PSK file); credentials with {@code tls=off}
 * are a mistake worth reporting; and a listen address that other machines can reach is refused
 * while clear text may be served there ({@code tls=off}, or {@code tls=on}, which serves clients
 * that skip STARTTLS in clear text) unless {@code insecure_allow_cleartext_network=true} says
 * plainly that clear text on the network is wanted.
 *
 * @param listen the listen addresses, each {@code HOST:PORT}, {@code [IPV6]:PORT} or
 *        {@code unix:<absolute path>}
 * @param tls the TLS mode
 * @param tlsCertificates the X.509 credential directory (absolute), if configured
 * @param tlsPskFile the pre-shared-key file (absolute), if configured
 * @param tlsVerifyPeer whether client certificates are verified, if configured; by default they are
 *        when the certificate directory holds {@value ExportProperties#CA_CERT_FILE}
 * @param insecureAllowCleartextNetwork whether a non-loopback address may serve clear text (TLS off or only offered)
 * @param readViews where large read hits are sent from the cache's mapping:
 *        {@code auto}, {@code on} or {@code off} ({@link ExportProperties#READ_VIEWS}; since 1.4)
 */
public record ExportDefinition(List<String> listen, ExportTlsMode tls, Optional<Path> tlsCertificates,
        Optional<Path> tlsPskFile, Optional<Boolean> tlsVerifyPeer, boolean insecureAllowCleartextNetwork,
        String readViews) {

    /** What a listen address looks like, for messages. */
    public static final String LISTEN_EXPECTED = "HOST:PORT (e.g. 127.0.0.1:10809, [::1]:10809) or unix:PATH, "
            + "or several separated by commas";

    public ExportDefinition {
        listen = List.copyOf(listen);
        if (!READ_VIEW_VALUES.contains(readViews)) {
            throw new IllegalArgumentException(ExportProperties.READ_VIEWS + "=" + readViews + ": expected "
                    + ExportProperties.READ_VIEWS_EXPECTED);
        }
    }

    /** The definition without {@code readViews} (the default): the constructor of version 1.3. */
    public ExportDefinition(List<String> listen, ExportTlsMode tls, Optional<Path> tlsCertificates,
            Optional<Path> tlsPskFile, Optional<Boolean> tlsVerifyPeer, boolean insecureAllowCleartextNetwork) {
        this(listen, tls, tlsCertificates, tlsPskFile, tlsVerifyPeer, insecureAllowCleartextNetwork,
                ExportProperties.READ_VIEWS_DEFAULT);
    }

    private static final List<String> READ_VIEW_VALUES = List.of("auto", "on", "off");

    /** The outcome of {@link #parse}: a definition, or every problem found, each a sentence naming its key. */
    public record Parsed(Optional<ExportDefinition> definition, List<String> problems) {
        public Parsed {
            problems = List.copyOf(problems);
        }
    }

    /**
     * Validates the export's configuration.
     *
     * @param values the properties given (missing ones take their defaults; an empty text is
     *        not given), keyed by {@link ExportProperties} names; values are text or, from
     *        ConfigAdmin, Booleans
     * @param base the directory relative paths are relative to
     * @param keyPrefix how the front end spells keys before the property name: {@code "nbd."}
     *        in the configuration file, {@code ""} in ConfigAdmin
     */
    public static Parsed parse(Map<String, ?> values, Path base, String keyPrefix) {
        return new Parser(values, base, keyPrefix).parse();
    }

    /**
     * The refusal of a listen address that other machines can reach while TLS is off, naming
     * what to do.
     */
    public static String cleartextNetworkRefusal(String address, String keyPrefix) {
        return cleartextNetworkRefusal(address, keyPrefix, ExportTlsMode.OFF);
    }

    /**
     * The refusal of a listen address that other machines can reach while {@code mode} serves
     * clear text there ({@code off}, or {@code on}, which serves clients that skip STARTTLS in
     * clear text), naming what to do.
     */
    public static String cleartextNetworkRefusal(String address, String keyPrefix, ExportTlsMode mode) {
        String why = mode == ExportTlsMode.ON
                ? keyPrefix + ExportProperties.TLS + "=on, which serves a client that does not ask for TLS in clear text:"
                        + " anyone on the network could read and overwrite the caches without TLS."
                : keyPrefix + ExportProperties.TLS + "=off: anyone on the network could read and overwrite the caches.";
        return keyPrefix + ExportProperties.LISTEN + "=" + address + " is reachable from other machines but "
                + why + " Set " + keyPrefix + ExportProperties.TLS + "=require with " + keyPrefix
                + ExportProperties.TLS_CERTIFICATES + " or " + keyPrefix + ExportProperties.TLS_PSK_FILE
                + ", listen on a loopback address or a unix socket, or set " + keyPrefix
                + ExportProperties.INSECURE_ALLOW_CLEARTEXT_NETWORK + "=true to accept clear text on the network";
    }

    /**
     * Whether {@code address} (as {@link #listen} holds it) can be reached from other machines:
     * a TCP address that is not loopback, or whose host name does not resolve.
     */
    public static boolean exposesNetwork(String address) {
        if (address.startsWith("unix:")) {
            return false;
        }
        int colon = address.lastIndexOf(':');
        String host = colon < 0 ? address : address.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        try {
            return !InetAddress.getByName(host).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return true; // cannot tell: assume the worst
        }
    }

    /** The TLS credentials, or empty when {@link #tls} is off. */
    public Optional<TlsSettings> tlsSettings() {
        if (tls == ExportTlsMode.OFF) {
            return Optional.empty();
        }
        if (tlsPskFile.isPresent()) {
            return Optional.of(TlsSettings.psk(tlsPskFile.get(), null));
        }
        Path dir = tlsCertificates.orElseThrow();
        boolean verify = tlsVerifyPeer.orElseGet(() -> Files.exists(dir.resolve(ExportProperties.CA_CERT_FILE)));
        return Optional.of(TlsSettings.certificates(dir, verify, null));
    }

    /**
     * The ConfigAdmin dictionary of the export component (PID {@value ConfigPids#EXPORT_NBD}); with
     * TLS on it also makes the component wait for a TlsProvider
     * ({@value ExportProperties#TLS_PROVIDER_MINIMUM}).
     */
    public Map<String, Object> properties() {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put(ExportProperties.LISTEN, String.join(",", listen));
        p.put(ExportProperties.TLS, tls.configName());
        tlsCertificates.ifPresent(d -> p.put(ExportProperties.TLS_CERTIFICATES, d.toString()));
        tlsPskFile.ifPresent(f -> p.put(ExportProperties.TLS_PSK_FILE, f.toString()));
        tlsVerifyPeer.ifPresent(v -> p.put(ExportProperties.TLS_VERIFY_PEER, v));
        p.put(ExportProperties.INSECURE_ALLOW_CLEARTEXT_NETWORK, insecureAllowCleartextNetwork);
        p.put(ExportProperties.READ_VIEWS, readViews);
        if (tls != ExportTlsMode.OFF) {
            p.put(ExportProperties.TLS_PROVIDER_MINIMUM, 1);
        }
        return p;
    }

    /** Turns text into typed values, collecting problems. */
    private static final class Parser {
        private final Map<String, ?> values;
        private final Path base;
        private final String prefix;
        private final List<String> problems = new ArrayList<>();

        Parser(Map<String, ?> values, Path base, String prefix) {
            this.values = values;
            this.base = base;
            this.prefix = prefix;
        }

        Parsed parse() {
            List<String> listen = listen(text(ExportProperties.LISTEN).orElse(ExportProperties.LISTEN_DEFAULT));
            String modeText = text(ExportProperties.TLS).orElse(ExportProperties.TLS_DEFAULT);
            Optional<ExportTlsMode> mode = ExportTlsMode.byName(modeText);
            if (mode.isEmpty()) {
                problem(ExportProperties.TLS, modeText, "expected " + ExportTlsMode.EXPECTED);
            }
            Optional<Path> certificates = path(ExportProperties.TLS_CERTIFICATES);
            Optional<Path> pskFile = path(ExportProperties.TLS_PSK_FILE);
            Optional<Boolean> verifyPeer = bool(ExportProperties.TLS_VERIFY_PEER);
            boolean insecure = bool(ExportProperties.INSECURE_ALLOW_CLEARTEXT_NETWORK)
                    .orElse(ExportProperties.INSECURE_ALLOW_CLEARTEXT_NETWORK_DEFAULT);
            String readViews = text(ExportProperties.READ_VIEWS).orElse(ExportProperties.READ_VIEWS_DEFAULT);
            if (!READ_VIEW_VALUES.contains(readViews)) {
                problem(ExportProperties.READ_VIEWS, readViews, "expected " + ExportProperties.READ_VIEWS_EXPECTED);
            }
            mode.ifPresent(m -> checkCredentials(m, modeText, certificates, pskFile, verifyPeer));
            if (mode.isPresent() && mode.get() != ExportTlsMode.REQUIRE && !insecure) {
                for (String address : listen) {
                    if (exposesNetwork(address)) {
                        problems.add(cleartextNetworkRefusal(address, prefix, mode.get()));
                    }
                }
            }
            if (!problems.isEmpty()) {
                return new Parsed(Optional.empty(), problems);
            }
            return new Parsed(Optional.of(new ExportDefinition(listen, mode.get(), certificates, pskFile, verifyPeer,
                    insecure, readViews)), List.of());
        }

        private void checkCredentials(ExportTlsMode mode, String modeText, Optional<Path> certificates,
                                      Optional<Path> pskFile, Optional<Boolean> verifyPeer) {
            String certificatesKey = prefix + ExportProperties.TLS_CERTIFICATES;
            String pskKey = prefix + ExportProperties.TLS_PSK_FILE;
            if (mode == ExportTlsMode.OFF) {
                for (String key : List.of(ExportProperties.TLS_CERTIFICATES, ExportProperties.TLS_PSK_FILE,
                        ExportProperties.TLS_VERIFY_PEER)) {
                    text(key).ifPresent(v -> problems.add(prefix + key + "=" + v + " is set but " + prefix
                            + ExportProperties.TLS + "=off: set " + prefix + ExportProperties.TLS
                            + "=on or require to use it, or remove it"));
                }
            } else if (certificates.isEmpty() && pskFile.isEmpty()) {
                if (text(ExportProperties.TLS_CERTIFICATES).isEmpty() && text(ExportProperties.TLS_PSK_FILE).isEmpty()) {
                    problems.add(prefix + ExportProperties.TLS + "=" + modeText + " needs credentials: set "
                            + certificatesKey + "=DIR (server-cert.pem, server-key.pem, ca-cert.pem to verify "
                            + "clients) or " + pskKey + "=FILE (identity:hexkey lines)");
                }
            } else if (certificates.isPresent() && pskFile.isPresent()) {
                problems.add(certificatesKey + " and " + pskKey + " are both set: expected one of them "
                        + "(X.509 certificates or pre-shared keys)");
            } else if (pskFile.isPresent() && verifyPeer.isPresent()) {
                problems.add(prefix + ExportProperties.TLS_VERIFY_PEER + "=" + verifyPeer.get() + " applies to "
                        + certificatesKey + ": with " + pskKey + " every client proves its identity by its key;"
                        + " remove it");
            }
        }

        /** One address, or several separated by commas; unix paths made absolute. */
        private List<String> listen(String value) {
            List<String> addresses = new ArrayList<>();
            for (String address : value.split(",", -1)) {
                String a = listenAddress(value, address.trim());
                if (a != null) {
                    addresses.add(a);
                }
            }
            return addresses;
        }

        private String listenAddress(String wholeValue, String value) {
            String key = ExportProperties.LISTEN;
            if (value.startsWith("unix:")) {
                String p = value.substring("unix:".length());
                if (p.isEmpty()) {
                    problem(key, wholeValue, "expected " + LISTEN_EXPECTED);
                    return null;
                }
                try {
                    return "unix:" + base.resolve(p).toAbsolutePath().normalize();
                } catch (InvalidPathException e) {
                    problem(key, p, "expected a path (" + e.getReason() + ")");
                    return null;
                }
            }
            int colon = value.lastIndexOf(':');
            String host = colon < 0 ? "" : value.substring(0, colon);
            if (host.isEmpty() || (host.startsWith("[") != host.endsWith("]")) || host.contains(" ")) {
                problem(key, wholeValue, "expected " + LISTEN_EXPECTED);
                return null;
            }
            try {
                int port = Integer.parseInt(value.substring(colon + 1));
                if (port < 0 || port > 65535) {
                    throw new NumberFormatException();
                }
            } catch (NumberFormatException e) {
                problem(key, wholeValue, "expected " + LISTEN_EXPECTED + " with a port from 0 to 65535");
                return null;
            }
            return value;
        }

        private Optional<String> text(String property) {
            Object v = values.get(property);
            if (v == null) {
                return Optional.empty();
            }
            String s = String.valueOf(v).trim();
            return s.isEmpty() ? Optional.empty() : Optional.of(s);
        }

        private Optional<Path> path(String property) {
            Optional<String> text = text(property);
            if (text.isEmpty()) {
                return Optional.empty();
            }
            try {
                return Optional.of(base.resolve(text.get()).toAbsolutePath().normalize());
            } catch (InvalidPathException e) {
                problem(property, text.get(), "expected a path (" + e.getReason() + ")");
                return Optional.empty();
            }
        }

        private Optional<Boolean> bool(String property) {
            Object v = values.get(property);
            if (v instanceof Boolean b) {
                return Optional.of(b);
            }
            Optional<String> text = text(property);
            if (text.isEmpty()) {
                return Optional.empty();
            }
            try {
                return Optional.of(ConfigValues.bool(text.get()));
            } catch (IllegalArgumentException e) {
                problem(property, text.get(), "expected " + ConfigValues.BOOLEAN_EXPECTED);
                return Optional.empty();
            }
        }

        private void problem(String property, String value, String text) {
            problems.add(prefix + property + "=" + value + ": " + text);
        }
    }
}
