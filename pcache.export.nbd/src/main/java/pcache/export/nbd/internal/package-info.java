/**
 * The NBD server that exports pcache devices to real clients (qemu, libnbd tools, fio, Linux
 * nbd). Private to the bundle.
 *
 * <h2>Shape</h2>
 * <ul>
 * <li>{@link pcache.export.nbd.internal.NbdServer}: exports by name, listeners, shutdown; plain
 * Java. {@link pcache.export.nbd.internal.NbdExportComponent} is the DS shell feeding it
 * configuration and {@code CacheDevice} services.</li>
 * <li>Per connection ({@link pcache.export.nbd.internal.NbdConnection}): a reader thread that runs
 * the {@link pcache.export.nbd.internal.Handshake} and then decodes requests with a
 * {@link pcache.export.nbd.internal.RequestReader} (which
 * {@link pcache.export.nbd.internal.RequestValidator validates} them; both run from plain bytes,
 * which is how the fuzz tests drive them); a
 * {@link pcache.export.nbd.internal.ReplyWriter} thread that writes whole replies in completion
 * order; an {@link pcache.export.nbd.internal.InflightLimiter} bounding requests and payload bytes
 * in flight (backpressure: the reader stops reading), drawing on the server-wide
 * {@link pcache.export.nbd.internal.SharedBudget}.</li>
 * <li>A worker pool shared by all connections runs the device calls
 * ({@link pcache.export.nbd.internal.RequestExecutor}); device errors become NBD errors through
 * {@link pcache.export.nbd.internal.ErrorMapping}.</li>
 * </ul>
 * The protocol is the NBD project's normative specification, {@code doc/proto.md}.
 */
package pcache.export.nbd.internal;
