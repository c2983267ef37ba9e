package pcache.tls.internal.x509;

import java.net.Socket;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Checks the peer's certificate with the JDK's PKIX trust manager and, on failure, says which
 * check failed in words a user acts on ({@link Refusal}). A client checks the chain against
 * {@code ca-cert.pem} first and then the host name (the JDK's "HTTPS" rules, which the engine asks
 * for when a server name is set); a server checks client chains. Without a CA (a client that does
 * not verify) every certificate is accepted.
 */
final class PeerVerifier extends X509ExtendedTrustManager {

    private final X509ExtendedTrustManager pkix;
    private final Path caFile;

    private PeerVerifier(X509ExtendedTrustManager pkix, Path caFile) {
        this.pkix = pkix;
        this.caFile = caFile;
    }

    /** Verifies against the certificates of {@code caFile}. */
    static PeerVerifier trusting(List<X509Certificate> caCertificates, Path caFile) throws GeneralSecurityException {
        KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
        try {
            store.load(null, null);
        } catch (java.io.IOException e) {
            throw new GeneralSecurityException(e);
        }
        for (int i = 0; i < caCertificates.size(); i++) {
            store.setCertificateEntry("ca-" + i, caCertificates.get(i));
        }
        TrustManagerFactory factory = TrustManagerFactory.getInstance("PKIX");
        factory.init(store);
        for (TrustManager manager : factory.getTrustManagers()) {
            if (manager instanceof X509ExtendedTrustManager extended) {
                return new PeerVerifier(extended, caFile);
            }
        }
        throw new GeneralSecurityException("the JDK has no PKIX X509ExtendedTrustManager");
    }

    /** Accepts any certificate (a client with verification off). */
    static PeerVerifier acceptingAll() {
        return new PeerVerifier(null, null);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        if (pkix == null) {
            return;
        }
        try {
            pkix.checkServerTrusted(chain, authType); // the chain only, no host name
        } catch (CertificateException e) {
            throw new Refusal(whyRefused("the server's certificate", chain, e), e);
        }
        if (engine.getSSLParameters().getEndpointIdentificationAlgorithm() != null) {
            try {
                pkix.checkServerTrusted(chain, authType, engine);
            } catch (CertificateException e) {
                throw new Refusal("the server's certificate is for " + names(chain[0]) + ", not '"
                        + engine.getPeerHost() + "'", e);
            }
        }
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        if (pkix == null) {
            return;
        }
        try {
            pkix.checkClientTrusted(chain, authType, engine);
        } catch (CertificateException e) {
            throw new Refusal(whyRefused("its certificate", chain, e), e);
        }
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        throw new CertificateException("pcache uses SSLEngine only");
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        throw new CertificateException("pcache uses SSLEngine only");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        throw new CertificateException("pcache uses SSLEngine only");
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        throw new CertificateException("pcache uses SSLEngine only");
    }

    /**
     * None named: a client then presents its certificate whoever signed it (rather than silently
     * none when its CA is not the one named), and a refusal can say what it presented.
     */
    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return new X509Certificate[0];
    }

    /**
     * Why the chain's check failed, in words that point at the fix: a certificate out of its
     * validity period (renew it, or check the clocks) or not meant for this use is named as such;
     * anything else is taken as not signed by the CA. Before, every refusal said "not signed by".
     */
    private String whyRefused(String whose, X509Certificate[] chain, CertificateException e) {
        String what = whose + " (" + subject(chain) + ")";
        String reasons = reasons(e);
        String validity = chain.length == 0 ? null : validity(chain[0]);
        if (reasons.contains("validity check failed")) { // the chain leads to the CA: only its dates are wrong
            return validity != null ? what + validity
                    : what + " or a certificate of its chain is out of its validity period: renew it (" + e.getMessage()
                            + ")";
        }
        if (reasons.contains("key usage") || reasons.contains("keyusage")) {
            return what + " is not meant for this use (its key usage or extended key usage does not allow it): issue"
                    + " one for TLS " + (whose.startsWith("its") ? "clients" : "servers") + " (" + e.getMessage() + ")";
        }
        return what + " is not signed by " + caFile + " (" + e.getMessage() + ")"
                + (validity != null ? "; besides, it" + validity.substring(validity.indexOf(' ')) : "");
    }

    /** " expired at ...: renew it" or " is not valid before ...", or null while {@code certificate} is valid. */
    private static String validity(X509Certificate certificate) {
        try {
            certificate.checkValidity();
            return null;
        } catch (java.security.cert.CertificateExpiredException x) {
            return " expired at " + certificate.getNotAfter().toInstant() + ": renew it";
        } catch (java.security.cert.CertificateNotYetValidException x) {
            return " is not valid before " + certificate.getNotBefore().toInstant()
                    + ": check the clocks of both machines, or wait";
        }
    }

    /** The messages of {@code e} and its causes, in lower case. */
    private static String reasons(Throwable e) {
        StringBuilder all = new StringBuilder();
        for (Throwable t = e; t != null && all.length() < 4096; t = t.getCause()) {
            all.append(' ').append(t.getMessage());
        }
        return all.toString().toLowerCase(java.util.Locale.ROOT);
    }

    private static String subject(X509Certificate[] chain) {
        // the peer's own words, before anything is verified: no forged log lines
        return chain.length == 0 ? "none" : pcache.io.Printable.of(chain[0].getSubjectX500Principal().getName());
    }

    /** The names a certificate is for: its DNS and IP subject alternative names, else its subject. */
    private static String names(X509Certificate certificate) {
        List<String> names = new ArrayList<>();
        try {
            Collection<List<?>> alternatives = certificate.getSubjectAlternativeNames();
            if (alternatives != null) {
                for (List<?> entry : alternatives) {
                    int type = (Integer) entry.get(0);
                    if (type == 2 || type == 7) { // dNSName, iPAddress
                        names.add("'" + pcache.io.Printable.of(String.valueOf(entry.get(1))) + "'");
                    }
                }
            }
        } catch (CertificateParsingException e) {
            // fall back to the subject
        }
        return names.isEmpty() ? "'" + pcache.io.Printable.of(certificate.getSubjectX500Principal().getName()) + "'"
                : String.join(", ", names);
    }

    /** A certificate refused for a reason the message states completely. */
    static final class Refusal extends CertificateException {
        private static final long serialVersionUID = 1L;

        Refusal(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
