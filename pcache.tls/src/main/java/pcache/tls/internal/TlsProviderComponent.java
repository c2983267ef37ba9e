package pcache.tls.internal;

import org.osgi.service.component.annotations.Component;

import pcache.api.tls.TlsConfigurationException;
import pcache.api.tls.TlsEndpoint;
import pcache.api.tls.TlsProvider;
import pcache.api.tls.TlsSettings;

/** The DS service: a thin shell over {@link DefaultTlsProvider}. */
@Component(service = TlsProvider.class)
public final class TlsProviderComponent implements TlsProvider {

    private final DefaultTlsProvider provider = new DefaultTlsProvider();

    @Override
    public TlsEndpoint server(TlsSettings settings) throws TlsConfigurationException {
        return provider.server(settings);
    }

    @Override
    public TlsEndpoint client(TlsSettings settings) throws TlsConfigurationException {
        return provider.client(settings);
    }
}
