package pcache.export.nbd.internal;

import java.time.Duration;

/**
 * Limits and timeouts of an {@link NbdServer}.
 *
 * @param maxConnections connections served at once; more are closed right after accept
 * @param maxInflightRequestsPerConnection requests one connection may have in flight
 * @param maxInflightBytesPerConnection payload bytes one connection may hold in flight
 * @param maxInflightBytesTotal payload bytes all connections together may hold in flight (see
 *        {@link SharedBudget}; a connection with nothing in flight may still take one request of
 *        up to 1 MiB beyond it)
 * @param workers threads executing device requests, shared by all connections
 * @param handshakeTimeout a client that has not entered transmission by then is dropped
 * @param drainTimeout how long withdrawal, DISC and shutdown wait for in-flight requests
 * @param inlineMaxBytes READ and WRITE requests up to this size are first tried on the connection's
 *        own thread ({@link pcache.api.BlockDevice#tryRead} and friends: served there when the
 *        device can do it without waiting, else handed to a worker); 0 sends every request to
 *        the workers
 * @param readViews on which connections large READs that hit the cache are sent straight from
 *        its mapping ({@link pcache.api.BlockDevice#tryReadView}) instead of a copy
 * @param payloadStallTimeout a client that sends less than 64 KiB (or the rest of the payload)
 *        in this long, in the middle of a WRITE payload being received straight into the cache
 *        (which holds that cache space and the cache's request gate meanwhile), is disconnected,
 *        and the space given back
 */
public record NbdServerConfig(int maxConnections, int maxInflightRequestsPerConnection,
                              long maxInflightBytesPerConnection, long maxInflightBytesTotal, int workers,
                              Duration handshakeTimeout, Duration drainTimeout, int inlineMaxBytes,
                              ReadViews readViews, Duration payloadStallTimeout) {

    /** Where large READs are sent from the cache's own memory (see {@link #readViews}). */
    public enum ReadViews {
        /** Never: every READ is copied into a buffer first. */
        OFF("off"),
        /**
         * On every connection but a clear-text unix socket, where on some machines the
         * connection's one reply writer is what limits 1 MiB reads, and its copy from the mapping
         * itself, rather than from a buffer a worker just filled, made it slower (M2 in
         * docs/BENCHMARKS.md, "Large reads sent from the mapping": 0.85×); over TCP, and with TLS on
         * either transport, the copy saved made reads faster everywhere.
         */
        AUTO("auto"),
        /**
         * On every connection: the default. Over clear-text unix sockets too, where it made 1 MiB
         * reads 1.23–1.37× faster on M3 (docs/BENCHMARKS.md, "Read views over unix sockets on
         * another machine") against 0.85× on M2.
         */
        ON("on");

        public final String configName;

        ReadViews(String configName) {
            this.configName = configName;
        }

        /** Whether a connection of this kind lends reads. */
        boolean appliesTo(boolean unixSocket, boolean tls) {
            return this == ON || (this == AUTO && (!unixSocket || tls));
        }

        /** The value named {@code name} ({@code off}, {@code tcp}, {@code on}). */
        public static ReadViews parse(String name) {
            for (ReadViews v : values()) {
                if (v.configName.equals(name.trim())) {
                    return v;
                }
            }
            throw new IllegalArgumentException(pcache.api.config.ExportProperties.READ_VIEWS + "=" + name
                    + ": expected " + pcache.api.config.ExportProperties.READ_VIEWS_EXPECTED);
        }
    }

    public static final int DEFAULT_MAX_CONNECTIONS = 1024;
    public static final int DEFAULT_MAX_INFLIGHT_REQUESTS = 256;
    public static final long DEFAULT_MAX_INFLIGHT_BYTES = 64L << 20;
    /**
     * Requests up to 128 KiB are tried inline: below that, copying the data costs less than the
     * two thread hand-offs (reader to worker, worker to reply writer) a worker needs; above it,
     * a worker copying one request while the reader reads the next is worth the hand-offs
     * (docs/BENCHMARKS.md, NBD data path).
     */
    public static final int DEFAULT_INLINE_MAX_BYTES = 128 << 10;
    /**
     * Ten seconds: far beyond what a client sending a payload pauses for, and well within the
     * 30 s a swap of the cache's parts waits for the requests in flight.
     */
    public static final Duration DEFAULT_PAYLOAD_STALL_TIMEOUT = Duration.ofSeconds(10);

    /** The constructor before {@code readViews}: large reads are lent as the default, {@link ReadViews#ON}, says. */
    public NbdServerConfig(int maxConnections, int maxInflightRequestsPerConnection,
                           long maxInflightBytesPerConnection, long maxInflightBytesTotal, int workers,
                           Duration handshakeTimeout, Duration drainTimeout, int inlineMaxBytes) {
        this(maxConnections, maxInflightRequestsPerConnection, maxInflightBytesPerConnection, maxInflightBytesTotal,
                workers, handshakeTimeout, drainTimeout, inlineMaxBytes, ReadViews.ON, DEFAULT_PAYLOAD_STALL_TIMEOUT);
    }

    public NbdServerConfig {
        java.util.Objects.requireNonNull(readViews, "readViews");
        if (maxConnections < 1 || maxInflightRequestsPerConnection < 1 || maxInflightBytesPerConnection < 1
                || maxInflightBytesTotal < 1 || workers < 1) {
            throw new IllegalArgumentException("NBD server limits must be positive: connections="
                    + maxConnections + ", in-flight requests=" + maxInflightRequestsPerConnection
                    + ", in-flight bytes=" + maxInflightBytesPerConnection + ", in all connections "
                    + maxInflightBytesTotal + ", workers=" + workers);
        }
        if (inlineMaxBytes < 0) {
            throw new IllegalArgumentException("NBD inline request limit must not be negative: " + inlineMaxBytes);
        }
        java.util.Objects.requireNonNull(payloadStallTimeout, "payloadStallTimeout");
        if (handshakeTimeout.isNegative() || handshakeTimeout.isZero() || drainTimeout.isNegative()
                || payloadStallTimeout.isNegative() || payloadStallTimeout.isZero()) {
            throw new IllegalArgumentException("NBD server timeouts must be positive: handshake="
                    + handshakeTimeout + ", drain=" + drainTimeout + ", payload stall=" + payloadStallTimeout);
        }
    }

    /** Two workers per processor: device calls block, so a few more threads than cores. */
    public static int defaultWorkers() {
        return Math.max(4, 2 * Runtime.getRuntime().availableProcessors());
    }

    /**
     * Server-wide in-flight bytes: a quarter of the maximum heap, between 64 MiB and 1 GiB
     * (READ buffers above 1 MiB are heap arrays; the JVM must have room for them all).
     */
    public static long defaultMaxInflightBytesTotal() {
        return Math.max(DEFAULT_MAX_INFLIGHT_BYTES, Math.min(1L << 30, Runtime.getRuntime().maxMemory() / 4));
    }

    /**
     * The defaults: 1024 connections, 256 requests and 64 MiB in flight per connection,
     * {@link #defaultMaxInflightBytesTotal()} in all.
     */
    public static NbdServerConfig defaults() {
        return new NbdServerConfig(DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_INFLIGHT_REQUESTS,
                DEFAULT_MAX_INFLIGHT_BYTES, defaultMaxInflightBytesTotal(), defaultWorkers(), Duration.ofSeconds(60),
                Duration.ofSeconds(10), DEFAULT_INLINE_MAX_BYTES);
    }

    public NbdServerConfig withWorkers(int count) {
        return new NbdServerConfig(maxConnections, maxInflightRequestsPerConnection,
                maxInflightBytesPerConnection, maxInflightBytesTotal, count, handshakeTimeout, drainTimeout, inlineMaxBytes, readViews, payloadStallTimeout);
    }

    public NbdServerConfig withMaxConnections(int count) {
        return new NbdServerConfig(count, maxInflightRequestsPerConnection,
                maxInflightBytesPerConnection, maxInflightBytesTotal, workers, handshakeTimeout, drainTimeout, inlineMaxBytes, readViews, payloadStallTimeout);
    }

    public NbdServerConfig withMaxInflightRequestsPerConnection(int count) {
        return new NbdServerConfig(maxConnections, count,
                maxInflightBytesPerConnection, maxInflightBytesTotal, workers, handshakeTimeout, drainTimeout, inlineMaxBytes, readViews, payloadStallTimeout);
    }

    public NbdServerConfig withMaxInflightBytesPerConnection(long bytes) {
        return new NbdServerConfig(maxConnections, maxInflightRequestsPerConnection,
                bytes, maxInflightBytesTotal, workers, handshakeTimeout, drainTimeout, inlineMaxBytes, readViews, payloadStallTimeout);
    }

    public NbdServerConfig withMaxInflightBytesTotal(long bytes) {
        return new NbdServerConfig(maxConnections, maxInflightRequestsPerConnection,
                maxInflightBytesPerConnection, bytes, workers, handshakeTimeout, drainTimeout, inlineMaxBytes, readViews, payloadStallTimeout);
    }

    public NbdServerConfig withHandshakeTimeout(Duration timeout) {
        return new NbdServerConfig(maxConnections, maxInflightRequestsPerConnection,
                maxInflightBytesPerConnection, maxInflightBytesTotal, workers, timeout, drainTimeout, inlineMaxBytes, readViews, payloadStallTimeout);
    }

    public NbdServerConfig withInlineMaxBytes(int bytes) {
        return new NbdServerConfig(maxConnections, maxInflightRequestsPerConnection,
                maxInflightBytesPerConnection, maxInflightBytesTotal, workers, handshakeTimeout, drainTimeout, bytes, readViews, payloadStallTimeout);
    }

    public NbdServerConfig withDrainTimeout(Duration timeout) {
        return new NbdServerConfig(maxConnections, maxInflightRequestsPerConnection,
                maxInflightBytesPerConnection, maxInflightBytesTotal, workers, handshakeTimeout, timeout, inlineMaxBytes, readViews, payloadStallTimeout);
    }

    public NbdServerConfig withReadViews(ReadViews views) {
        return new NbdServerConfig(maxConnections, maxInflightRequestsPerConnection,
                maxInflightBytesPerConnection, maxInflightBytesTotal, workers, handshakeTimeout, drainTimeout,
                inlineMaxBytes, views, payloadStallTimeout);
    }

    public NbdServerConfig withPayloadStallTimeout(Duration timeout) {
        return new NbdServerConfig(maxConnections, maxInflightRequestsPerConnection,
                maxInflightBytesPerConnection, maxInflightBytesTotal, workers, handshakeTimeout, drainTimeout,
                inlineMaxBytes, readViews, timeout);
    }
}
