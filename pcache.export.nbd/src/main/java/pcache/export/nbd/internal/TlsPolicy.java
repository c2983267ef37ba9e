package pcache.export.nbd.internal;

import java.util.Objects;

import pcache.api.config.ExportTlsMode;
import pcache.api.tls.TlsEndpoint;

/**
 * What the server does about TLS: the mode, the loaded credentials, and whether a listen address
 * other machines can reach may run without TLS.
 *
 * @param mode off, on (offered) or require
 * @param endpoint the server's credentials; null exactly when {@code mode} is off
 * @param cleartextNetworkAllowed a non-loopback address may be bound while clear text is served
 *        there: with TLS off, or offered ({@code on}) to clients that may skip it
 *        ({@code insecure_allow_cleartext_network})
 */
record TlsPolicy(ExportTlsMode mode, TlsEndpoint endpoint, boolean cleartextNetworkAllowed) {

    TlsPolicy {
        Objects.requireNonNull(mode, "mode");
        if ((mode == ExportTlsMode.OFF) != (endpoint == null)) {
            throw new IllegalArgumentException("TLS mode " + mode.configName() + (endpoint == null
                    ? " needs credentials" : " takes no credentials"));
        }
    }

    /** No TLS; only loopback addresses and unix sockets may be bound. */
    static TlsPolicy off() {
        return new TlsPolicy(ExportTlsMode.OFF, null, false);
    }

    /** No TLS, and binding addresses other machines reach is allowed anyway. */
    static TlsPolicy offAllowingCleartextNetwork() {
        return new TlsPolicy(ExportTlsMode.OFF, null, true);
    }

    /** TLS offered ({@code on}) or required with {@code endpoint}'s credentials. */
    static TlsPolicy with(ExportTlsMode mode, TlsEndpoint endpoint) {
        return new TlsPolicy(mode, endpoint, false);
    }

    /** Whether clear text may reach a client on an address other machines reach. */
    boolean servesCleartext() {
        return mode != ExportTlsMode.REQUIRE;
    }

    boolean offered() {
        return mode != ExportTlsMode.OFF;
    }

    boolean required() {
        return mode == ExportTlsMode.REQUIRE;
    }

    /** For logs and status: "require: X.509 from DIR, client certificates verified". */
    String describe() {
        return endpoint == null ? mode.configName() : mode.configName() + ": " + endpoint.describe();
    }
}
