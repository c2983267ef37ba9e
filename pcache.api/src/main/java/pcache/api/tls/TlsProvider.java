package pcache.api.tls;

import org.osgi.annotation.versioning.ProviderType;

/**
 * Makes TLS endpoints from configured credentials: JSSE for certificates, a maintained provider for
 * pre-shared keys (which JSSE lacks). A DS service; plain code may also instantiate an
 * implementation directly.
 */
@ProviderType
public interface TlsProvider {

    /**
     * Loads the credentials of an NBD server.
     *
     * @throws TlsConfigurationException naming the file that is missing, unreadable or malformed
     *         and what to do
     */
    TlsEndpoint server(TlsSettings settings) throws TlsConfigurationException;

    /**
     * Loads the credentials of an NBD client.
     *
     * @throws TlsConfigurationException naming the file that is missing, unreadable or malformed
     *         and what to do
     */
    TlsEndpoint client(TlsSettings settings) throws TlsConfigurationException;
}
