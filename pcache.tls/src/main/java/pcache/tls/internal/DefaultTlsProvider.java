package pcache.tls.internal;

import pcache.api.tls.TlsConfigurationException;
import pcache.api.tls.TlsEndpoint;
import pcache.api.tls.TlsProvider;
import pcache.api.tls.TlsSettings;
import pcache.tls.internal.psk.PskEndpoint;
import pcache.tls.internal.x509.JsseEndpoint;

/**
 * The TLS provider as plain code: certificates through JSSE ({@link JsseEndpoint}), pre-shared
 * keys through Bouncy Castle ({@link PskEndpoint}). Other modules' tests construct it directly;
 * in the framework {@link TlsProviderComponent} registers one.
 */
public final class DefaultTlsProvider implements TlsProvider {

    @Override
    public TlsEndpoint server(TlsSettings settings) throws TlsConfigurationException {
        return settings.usesPsk() ? PskEndpoint.server(settings) : JsseEndpoint.server(settings);
    }

    @Override
    public TlsEndpoint client(TlsSettings settings) throws TlsConfigurationException {
        return settings.usesPsk() ? PskEndpoint.client(settings) : JsseEndpoint.client(settings);
    }
}
