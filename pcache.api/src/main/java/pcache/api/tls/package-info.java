/**
 * TLS for NBD connections (the protocol's STARTTLS), shared by pcache's NBD server (the export) and
 * its NBD client (the backing device). Credentials follow the layout qemu, nbdkit and libnbd use: a
 * certificate directory ({@code ca-cert.pem}, {@code server-cert.pem}, {@code server-key.pem},
 * {@code client-cert.pem}, {@code client-key.pem}) or a pre-shared-key file ({@code identity:hexkey}
 * per line). The {@link pcache.api.tls.TlsProvider} service turns them into endpoints that run the
 * handshake over a connected socket.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.1.0")
package pcache.api.tls;
