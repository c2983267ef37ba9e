package pcache.tls.internal.x509;

import java.nio.file.Path;

import javax.net.ssl.SSLException;

import pcache.api.tls.TlsHandshakeException;
import pcache.tls.internal.credentials.CertificateDirectory;

/** Turns JSSE's handshake exceptions into messages that name the peer and what to do. */
final class HandshakeFailures {

    private HandshakeFailures() {
    }

    static TlsHandshakeException describe(SSLException e, boolean server, String peer, boolean verifyPeer,
                                          boolean hasOwnCertificate, Path caFile, Path directory) {
        String who = (server ? "client " : "server ") + peer;
        for (Throwable cause = e; cause != null; cause = cause.getCause()) {
            if (cause instanceof PeerVerifier.Refusal refusal) {
                return new TlsHandshakeException("refusing " + who + ": " + refusal.getMessage(), e);
            }
        }
        String message = pcache.io.Printable.of(String.valueOf(e.getMessage())); // may carry what the peer sent
        if (server && verifyPeer && message.contains("Empty client certificate chain")) {
            return new TlsHandshakeException(who + " presented no certificate; nbd.tls_verify_peer requires one"
                    + " signed by " + caFile, e);
        }
        if (message.contains("Received fatal alert:")) {
            String alert = message.substring(message.indexOf("Received fatal alert:") + 21).trim();
            boolean aboutOurCertificate = switch (alert) {
                case "certificate_required", "bad_certificate", "unknown_ca", "certificate_unknown" -> true;
                default -> false;
            };
            if (!server && !hasOwnCertificate && (aboutOurCertificate || alert.equals("handshake_failure"))) {
                return new TlsHandshakeException(who + " refused the TLS handshake (alert " + alert + "): it requires"
                        + " a client certificate (put " + CertificateDirectory.CLIENT_CERT + " and "
                        + CertificateDirectory.CLIENT_KEY + " in " + directory + ")", e);
            }
            String hint = switch (alert) {
                case "certificate_required" -> ": it requires a client certificate";
                case "bad_certificate", "unknown_ca", "certificate_unknown", "decrypt_error" -> server
                        ? ": it does not trust our certificate (" + directory + ")"
                        : ": it does not trust our client certificate ("
                                + directory.resolve(CertificateDirectory.CLIENT_CERT) + ")";
                case "protocol_version", "handshake_failure", "insufficient_security" ->
                        ": no TLS version or cipher suite in common (pcache speaks TLS 1.3 and 1.2)";
                default -> "";
            };
            return new TlsHandshakeException(who + " refused the TLS handshake (alert " + alert + ")" + hint, e);
        }
        if (message.contains("No appropriate protocol") || message.contains("protocol_version")
                || message.contains("not supported or has been disabled")) {
            return new TlsHandshakeException(who + " offers no TLS version pcache accepts (TLS 1.3 or 1.2): "
                    + message, e);
        }
        return new TlsHandshakeException("TLS handshake with " + who + " failed: " + message, e);
    }
}
