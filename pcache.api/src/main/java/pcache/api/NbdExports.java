package pcache.api;

import java.io.IOException;
import java.util.List;

import org.osgi.annotation.versioning.ProviderType;

/**
 * The NBD server's exports, as a service for management tools (registered by the NBD export
 * bundle). Every {@link CacheDevice} service is exported under its name unless it was withdrawn
 * here.
 */
@ProviderType
public interface NbdExports {

    /** One export and its counters since it was exported. */
    record ExportInfo(String name, long sizeBytes, boolean exported, int connections, long requests,
            long bytesRead, long bytesWritten, long errors) {
    }

    /**
     * TLS on the export.
     *
     * @param mode {@code off}, {@code on} (offered, clear text allowed) or {@code require}
     * @param credentials what the server proves itself with and how it checks clients, e.g.
     *        {@code X.509 from /etc/pcache/tls, client certificates verified}; empty when off
     * @param connections connections open now that run TLS
     */
    record TlsInfo(String mode, String credentials, int connections) {
    }

    /** TLS on the export; a server without TLS support says {@code off}. */
    default TlsInfo tls() {
        return new TlsInfo("off", "", 0);
    }

    /** The addresses the server listens on, e.g. {@code 127.0.0.1:10809} or {@code unix:/run/pcache.sock}. */
    List<String> listenAddresses();

    /** Every cache device known to the server, exported or withdrawn. */
    List<ExportInfo> exports();

    /**
     * Exports the cache device named {@code name} again after {@link #unexport}.
     *
     * @throws IOException naming the cache when no such cache device exists
     */
    void export(String name) throws IOException;

    /**
     * Withdraws the export {@code name}: new requests are refused (ESHUTDOWN), requests in flight
     * finish, the device is flushed and its clients are disconnected. It stays withdrawn until
     * {@link #export}, even if the cache device service goes away and is registered again (the
     * NBD server remembers the name for as long as it runs).
     *
     * @throws IOException naming the export when it does not exist
     */
    void unexport(String name) throws IOException;
}
