package pcache.backing.nbd.internal;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;

import pcache.api.tls.TlsSettings;

/**
 * How the connection of an {@code nbds://} or {@code nbds+unix://} backing device is encrypted
 * and authenticated, validated. The values come from the URI's query parameters (spelled as
 * libnbd's {@code nbd_connect_uri} spells them: {@code tls-certificates}, {@code tls-psk-file},
 * {@code tls-verify-peer}, {@code tls-username}, or the URI's user part, and
 * {@code tls-hostname}) or from the device configuration's keys of the same names with
 * underscores ({@code tls_certificates}, ...). A value may be given in either place; given in
 * both, it must be the same. Every value is checked here, whichever way it came, with the same
 * messages.
 *
 * @param certificateDirectory X.509: the directory with {@code ca-cert.pem} (and optionally
 *        {@code client-cert.pem} and {@code client-key.pem}), or null
 * @param pskFile pre-shared keys ({@code identity:hexkey} per line), or null
 * @param username the PSK identity to present; null takes the file's first
 * @param verifyPeer X.509: verify the server's certificate chain against {@code ca-cert.pem} and
 *        its name against {@code hostname} (always true with PSK, which authenticates both sides)
 * @param hostname X.509: the name the server's certificate must carry; null checks the chain only
 */
public record NbdTlsOptions(Path certificateDirectory, Path pskFile, String username,
        boolean verifyPeer, String hostname) {

    /** One TLS setting: its URI query parameter and its configuration key. */
    public enum Key {
        CERTIFICATES("tls-certificates", "tls_certificates"),
        PSK_FILE("tls-psk-file", "tls_psk_file"),
        USERNAME("tls-username", "tls_username"),
        VERIFY_PEER("tls-verify-peer", "tls_verify_peer"),
        HOSTNAME("tls-hostname", "tls_hostname");

        /** The URI query parameter. */
        public final String parameter;
        /** The configuration key. */
        public final String configKey;

        Key(String parameter, String configKey) {
            this.parameter = parameter;
            this.configKey = configKey;
        }

        /** The key whose URI query parameter is {@code parameter}, or null. */
        static Key ofParameter(String parameter) {
            for (Key key : values()) {
                if (key.parameter.equals(parameter)) {
                    return key;
                }
            }
            return null;
        }
    }

    /** What an nbds:// device needs, for messages. */
    static final String NEEDS = "tls-certificates=DIR (X.509, DIR holds ca-cert.pem) or "
            + "tls-psk-file=FILE (pre-shared keys, identity:hexkey per line)";

    /** @throws IllegalArgumentException if the combination makes no sense */
    public NbdTlsOptions {
        if ((certificateDirectory == null) == (pskFile == null)) {
            throw new IllegalArgumentException(certificateDirectory == null
                    ? "nbds:// needs credentials: " + NEEDS
                    : "give either tls-certificates or tls-psk-file, not both");
        }
        if (pskFile != null && !verifyPeer) {
            throw new IllegalArgumentException("tls-verify-peer=false does not apply to "
                    + "tls-psk-file: pre-shared keys always authenticate both sides");
        }
        if (certificateDirectory != null && username != null) {
            throw new IllegalArgumentException("a TLS user name (" + username + ") applies to "
                    + "tls-psk-file only; with tls-certificates the client presents "
                    + "client-cert.pem if the directory has one");
        }
        if (pskFile != null && hostname != null) {
            throw new IllegalArgumentException("tls-hostname applies to tls-certificates only");
        }
    }

    /**
     * Validates and merges the TLS settings of a device.
     *
     * @param fromUri the values in the URI (query parameters and user part), decoded
     * @param fromConfig the values of the configuration keys; null or empty values are not given
     * @return the options, or null if neither source names any and {@code tls} is false
     * @throws IllegalArgumentException naming the parameter or key, its value and what is expected
     */
    static NbdTlsOptions of(boolean tls, Map<Key, String> fromUri, Map<Key, String> fromConfig) {
        Map<Key, String> values = new EnumMap<>(Key.class);
        for (Key key : Key.values()) {
            String inUri = blankToNull(fromUri.get(key));
            String inConfig = blankToNull(fromConfig.get(key));
            if (inUri != null && inConfig != null && !inUri.equals(inConfig)) {
                throw new IllegalArgumentException(key.parameter + " is given twice, as '" + inUri
                        + "' in the URI and as '" + inConfig + "' in the key " + key.configKey
                        + "; give it once");
            }
            if (inUri != null || inConfig != null) {
                values.put(key, inUri != null ? inUri : inConfig);
            }
        }
        if (!tls) {
            if (!values.isEmpty()) {
                Key first = values.keySet().iterator().next();
                throw new IllegalArgumentException(first.parameter + " (" + first.configKey
                        + ") is set, but the URI is clear text: write nbds:// (or nbds+unix://) "
                        + "to connect with TLS");
            }
            return null;
        }
        return new NbdTlsOptions(path(values, Key.CERTIFICATES), path(values, Key.PSK_FILE),
                values.get(Key.USERNAME), bool(values, Key.VERIFY_PEER),
                values.get(Key.HOSTNAME));
    }

    private static String blankToNull(String value) {
        return value == null || value.isBlank() ? null : value.trim();
    }

    private static Path path(Map<Key, String> values, Key key) {
        String value = values.get(key);
        if (value == null) {
            return null;
        }
        Path path;
        try {
            path = Path.of(value);
        } catch (InvalidPathException e) {
            throw new IllegalArgumentException(key.parameter + " (" + key.configKey + ") '" + value
                    + "' is not a path: " + e.getReason());
        }
        if (!path.isAbsolute()) {
            throw new IllegalArgumentException(key.parameter + " (" + key.configKey + ") must be "
                    + "an absolute path, got '" + value + "'");
        }
        return path.normalize();
    }

    private static boolean bool(Map<Key, String> values, Key key) {
        String value = values.get(key);
        if (value == null) {
            return true;
        }
        switch (value.toLowerCase(Locale.ROOT)) {
            case "true": case "1": case "yes": case "on":
                return true;
            case "false": case "0": case "no": case "off":
                return false;
            default:
                throw new IllegalArgumentException(key.parameter + " (" + key.configKey + ") must "
                        + "be true or false, got '" + value + "'");
        }
    }

    /**
     * The credentials to load for a connection to {@code uri}: the server name checked in its
     * certificate is {@code tls-hostname}, else the URI's host (none over a unix socket).
     */
    TlsSettings settings(NbdUri uri) {
        if (pskFile != null) {
            return TlsSettings.psk(pskFile, username);
        }
        String serverName = hostname;
        if (serverName == null && uri.transport() == NbdUri.Transport.TCP) {
            String host = uri.host();
            serverName = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
        }
        return TlsSettings.certificates(certificateDirectory, verifyPeer,
                verifyPeer ? serverName : null);
    }
}
