package pcache.tls.internal.psk;

import java.io.EOFException;
import java.io.IOException;
import java.nio.file.Path;

import org.bouncycastle.tls.AlertDescription;
import org.bouncycastle.tls.TlsFatalAlert;
import org.bouncycastle.tls.TlsFatalAlertReceived;

import pcache.api.tls.TlsHandshakeException;

/** Turns Bouncy Castle's alerts into messages that name the peer, the identity and the file. */
final class PskFailures {

    private PskFailures() {
    }

    /**
     * @param identity the identity in play: the client's own, or the one a client offered
     * @param known whether a server found {@code identity} in its file
     */
    static IOException describe(IOException e, boolean server, String peer, Path file, String identity,
                                boolean known) {
        String who = (server ? "client " : "server ") + peer;
        if (server && identity != null) {
            identity = pcache.io.Printable.of(identity); // the client's, unauthenticated: no forged log lines
        }
        if (e instanceof Protocols.RenegotiationRefused) {
            return new TlsHandshakeException("ending the TLS connection with " + who + ": it asked to renegotiate"
                    + " the TLS session (TLS 1.2), which pcache does not support", e);
        }
        if (e instanceof EOFException) {
            return new TlsHandshakeException(who + " closed the connection during the TLS handshake"
                    + (server ? "" : " (it may not know PSK identity '" + identity + "')"), e);
        }
        short alert;
        boolean received;
        if (e instanceof TlsFatalAlertReceived alertReceived) {
            alert = alertReceived.getAlertDescription();
            received = true;
        } else if (e instanceof TlsFatalAlert alertRaised) {
            alert = alertRaised.getAlertDescription();
            received = false;
        } else {
            return e;
        }
        String name = AlertDescription.getText(alert);
        if (server) {
            if (identity != null && !known) {
                return new TlsHandshakeException("refusing " + who + ": PSK identity '" + identity + "' is not in "
                        + file, e);
            }
            if (identity == null && !received) {
                return new TlsHandshakeException("refusing " + who + ": it offered no PSK identity"
                        + " (is it configured for certificates?)", e);
            }
            if (isKeyMismatch(alert)) {
                return new TlsHandshakeException("refusing " + who + ": its key for PSK identity '" + identity
                        + "' differs from the one in " + file + " (" + name + ")", e);
            }
        } else {
            if (alert == AlertDescription.unknown_psk_identity) {
                return new TlsHandshakeException(who + " does not know PSK identity '" + identity + "' (from "
                        + file + ")", e);
            }
            if (isKeyMismatch(alert) || (received && alert == AlertDescription.illegal_parameter)) {
                // GnuTLS answers a PSK binder made with another key with illegal_parameter
                return new TlsHandshakeException(who + " refused PSK identity '" + identity + "', or has another key"
                        + " for it than " + file + " (" + name + ")", e);
            }
        }
        if (alert == AlertDescription.protocol_version || alert == AlertDescription.handshake_failure
                || alert == AlertDescription.insufficient_security) {
            return new TlsHandshakeException("TLS handshake with " + who + " failed (" + name + "): no TLS version or"
                    + " PSK cipher suite in common (pcache speaks TLS 1.3 and 1.2), or it does not use PSK", e);
        }
        return new TlsHandshakeException("TLS handshake with " + who + " failed: " + (received ? "it sent " : "")
                + "alert " + name + (e.getMessage() != null ? " (" + e.getMessage() + ")" : ""), e);
    }

    private static boolean isKeyMismatch(short alert) {
        return alert == AlertDescription.decrypt_error || alert == AlertDescription.bad_record_mac;
    }
}
