/**
 * The NBD client behind {@code pcache.backing.nbd}: a {@link pcache.api.spi.BackingDevice} on a
 * remote NBD export (design doc {@code nbd-protocol.md}, client profile §7.2). Private package.
 *
 * <h2>Pieces</h2>
 * <ul>
 * <li>{@link pcache.backing.nbd.internal.NbdUri}, {@link pcache.backing.nbd.internal.NbdSettings}:
 * what to connect to and how patiently; {@link pcache.backing.nbd.internal.NbdTlsOptions}: the
 * TLS settings of {@code nbds://} URIs and of the {@code tls_*} keys, checked once.</li>
 * <li>{@code Connector}, {@code Handshake}: socket plus fixed-newstyle negotiation
 * (STARTTLS first with TLS, then STRUCTURED_REPLY, GO with BLOCK_SIZE, EXPORT_NAME fallback),
 * TLS handshake included, bounded by the connect timeout.</li>
 * <li>{@code NbdConnection}: one transmission-phase connection; a sender thread and a reader
 * thread that matches replies (simple or structured) to requests by cookie.</li>
 * <li>{@link pcache.backing.nbd.internal.NbdBackingDevice}: the device; checks callers'
 * requests and chooses commands (capability fallbacks).</li>
 * <li>{@code WireGeometry}: alignment, largest request and size fixed by the first handshake,
 * and whether a later export still fits them.</li>
 * <li>{@code RequestParts}, {@code RequestPipeline}, {@code Deadline}: splitting a request into
 * NBD requests, sending them pipelined within a window, timeouts.</li>
 * <li>{@code ReadModifyWrite}: 512-byte granularity on servers with larger blocks (partial
 * blocks patched under {@code RangeLock}).</li>
 * <li>{@code ConnectionManager}: the live connection, requests parked while reconnecting,
 * reconnect with back-off, refusing an export that changed, close.</li>
 * <li>{@code DurabilityTracker}: when a flush may not report success after a lost connection.</li>
 * <li>{@link pcache.backing.nbd.internal.NbdBackingComponent} with {@code ConnectLoop}: the
 * configured DS component (factory PID {@code pcache.backing.nbd}); once connected, it has DS
 * register the device through the component factory
 * {@link pcache.backing.nbd.internal.NbdBackingService}.</li>
 * </ul>
 *
 * <h2>What the client guarantees</h2>
 * <ul>
 * <li>A write that returned was acknowledged by the server; with FUA (native, or emulated by a
 * FLUSH when the server lacks FUA) it is durable.</li>
 * <li>A flush that returned normally made every write acknowledged before it started durable on
 * the server, also across reconnects: if a connection was lost while it carried acknowledged,
 * unflushed writes, the next flush (and every flush already running) fails with
 * {@link pcache.api.BackingDeviceException} and the caller must write the data again. A flush
 * interrupted by a reconnect is re-sent and succeeds only if that rule allows it.</li>
 * <li>Without NBD_FLAG_SEND_FLUSH nothing can be made durable: {@code durableFlush()} is false,
 * a warning is logged at connect, and the service property
 * {@code pcache.backing.durable_flush=false} tells consumers.</li>
 * <li>Requests without a reply when the connection drops are re-sent on the next connection
 * and complete only then; requests wait at most {@code io_timeout_ms}, then fail with
 * {@link pcache.api.BackingUnavailableException}. NBD cannot cancel a request, so a write that
 * timed out on a live connection may still land later.</li>
 * <li>A reconnected export must have the same size, at least the same capabilities and no
 * stricter block constraints; otherwise the device stays FAILING until reconfigured.</li>
 * <li>An {@code nbds://} device sends nothing but NBD_OPT_STARTTLS in clear text: a server that
 * refuses it (or cannot be asked) and a failed TLS handshake end the connection, and every
 * reconnect negotiates TLS again with the credentials loaded when the device was created.</li>
 * </ul>
 *
 * <h2>Not supported</h2>
 * Opportunistic TLS ({@code nbd://} never tries STARTTLS), extended headers, block status,
 * multiple connections per device, oldstyle servers.
 */
package pcache.backing.nbd.internal;
