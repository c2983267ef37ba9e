/**
 * The NBD protocol's wire format as constants shared by pcache's NBD server (the export) and its
 * NBD client (the backing device), so that both speak from one definition. Values and names follow
 * the NBD project's normative specification ({@code doc/proto.md}); every integer on the wire is
 * big-endian.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.0.0")
package pcache.api.nbd;
