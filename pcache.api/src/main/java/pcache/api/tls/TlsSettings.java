package pcache.api.tls;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Where one side of a TLS connection finds its credentials, as configured. Exactly one of
 * {@link #certificateDirectory()} and {@link #pskFile()} is set.
 *
 * @param certificateDirectory X.509 credentials in qemu's and nbdkit's layout, or null for PSK.
 *        A server reads {@code server-cert.pem} and {@code server-key.pem}, and {@code ca-cert.pem}
 *        to verify client certificates; a client reads {@code ca-cert.pem} to verify the server, and
 *        {@code client-cert.pem} and {@code client-key.pem} when present
 * @param pskFile pre-shared keys, one {@code identity:hexkey} per line, or null for certificates
 * @param pskIdentity the identity a client presents (null: the file's first); ignored by a server
 * @param verifyPeer a server demands a client certificate signed by {@code ca-cert.pem}; a client
 *        verifies the server's certificate chain and its name against {@link #serverName()}
 * @param serverName the host name a client expects in the server's certificate (null: none is
 *        checked, only the chain); ignored by a server
 */
public record TlsSettings(Path certificateDirectory, Path pskFile, String pskIdentity,
                          boolean verifyPeer, String serverName) {

    /** Checks that exactly one kind of credentials is named. */
    public TlsSettings {
        if ((certificateDirectory == null) == (pskFile == null)) {
            throw new IllegalArgumentException(certificateDirectory == null
                    ? "TLS needs credentials: a certificate directory or a PSK file"
                    : "TLS takes either a certificate directory or a PSK file, not both ("
                            + certificateDirectory + ", " + pskFile + ")");
        }
    }

    /** X.509 credentials from {@code directory}. */
    public static TlsSettings certificates(Path directory, boolean verifyPeer, String serverName) {
        return new TlsSettings(Objects.requireNonNull(directory, "directory"), null, null, verifyPeer, serverName);
    }

    /** Pre-shared keys from {@code file}; {@code identity} is the client's (null: the first). */
    public static TlsSettings psk(Path file, String identity) {
        return new TlsSettings(null, Objects.requireNonNull(file, "file"), identity, true, null);
    }

    /** Whether these settings use pre-shared keys. */
    public boolean usesPsk() {
        return pskFile != null;
    }
}
