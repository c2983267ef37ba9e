package pcache.export.nbd.internal;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

import pcache.api.BlockDevice;
import pcache.api.config.ExportDefinition;
import pcache.api.nbd.NbdWire;
import pcache.io.log.Log;

/**
 * An NBD server (fixed newstyle, simple and structured replies) exporting {@link BlockDevice}s by
 * name over TCP and unix domain sockets. Plain Java: the DS component only feeds it
 * configuration and cache devices.
 *
 * <p>Threads: one acceptor per listen address; per connection a reader (handshake, request
 * parsing) and a reply writer; a shared pool of workers doing the device calls.
 *
 * <p>TLS ({@link TlsPolicy}): off, offered or required, for every connection. A listen address
 * other machines can reach is refused without TLS unless the policy allows clear text on the
 * network explicitly.
 *
 * <p>Thread-safe. {@link #close()} stops accepting, lets in-flight requests finish, flushes each
 * device once and closes every connection, all within the configured drain timeout.
 */
public final class NbdServer implements ExportDirectory, AutoCloseable {
    private static final System.Logger LOG = Log.of(NbdServer.class);

    final NbdServerConfig config;
    final TlsPolicy tls;
    final BufferPool bufferPool = new BufferPool();
    final SharedBudget sharedBudget;
    final ThreadPoolExecutor workers;
    /** How often {@link #checkWorkers} looks for requests waiting for a worker. */
    static final long WORKERS_CHECK_MILLIS = 50;
    /** The most workers {@link #checkWorkers} adds up to: this many per configured worker, at least {@link #WORKERS_MAX_MIN}. */
    static final int WORKERS_MAX_FACTOR = 16;
    static final int WORKERS_MAX_MIN = 64;
    private final int workersMax;
    /** Requests queued for a worker, and requests workers had taken, at the last check (only the timer thread). */
    private int queuedAtLastCheck;
    private long startedAtLastCheck;
    /** Whether {@link #checkWorkers} is scheduled. */
    private final java.util.concurrent.atomic.AtomicBoolean workersCheckScheduled =
            new java.util.concurrent.atomic.AtomicBoolean();
    private long workersGrownLoggedNanos = System.nanoTime() - TimeUnit.MINUTES.toNanos(2);
    private boolean workersAtMaxLogged;
    final ScheduledExecutorService scheduler;

    private final Object lock = new Object();
    private final Map<String, Export> exports = new LinkedHashMap<>();
    private final Set<NbdConnection> connections = new LinkedHashSet<>();
    private final List<Listener> listeners = new ArrayList<>();
    private final AtomicLong connectionIds = new AtomicLong();
    private volatile boolean shuttingDown;
    private boolean closed;

    /** A server without TLS: it listens on loopback addresses and unix sockets only. */
    public NbdServer(NbdServerConfig config) {
        this(config, TlsPolicy.off());
    }

    NbdServer(NbdServerConfig config, TlsPolicy tls) {
        this.config = config;
        this.tls = tls;
        this.sharedBudget = new SharedBudget(config.maxInflightBytesTotal(), BufferPool.MAX_POOLED_BYTES);
        this.workersMax = Math.max(WORKERS_MAX_MIN, config.workers() * WORKERS_MAX_FACTOR);
        this.workers = new ThreadPoolExecutor(config.workers(), workersMax, 60, TimeUnit.SECONDS,
                new LinkedBlockingQueue<>(), daemonThreads("pcache-nbd-worker-"));
        this.workers.allowCoreThreadTimeOut(true);
        ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1, daemonThreads("pcache-nbd-timer-"));
        timer.setRemoveOnCancelPolicy(true);
        this.scheduler = timer;
        // payloads read into a buffer are watched too, whatever inline_max_bytes says
        long period = Math.max(1, config.payloadStallTimeout().toNanos() / 4);
        timer.scheduleWithFixedDelay(this::checkStalls, period, period, TimeUnit.NANOSECONDS);
    }

    /**
     * Adds workers while every one is taken and requests wait: a request stuck on a slow or
     * absent backing device (a miss, a write waiting for cache space) holds its worker for up to
     * the cache's backing timeout, and would otherwise hold up every client's requests queued
     * behind it, hits included. When the workers have not started all the requests that were
     * queued at the last check, one of them has waited a whole check period: the queued requests
     * get new workers, up to {@link #workersMax}. Once the queue is empty and the configured
     * number suffices, the extra workers end when idle.
     */
    private void checkWorkers() {
        workersCheckScheduled.set(false);
        boolean again = true;
        try {
            int queued = workers.getQueue().size();
            long started = workers.getTaskCount() - queued; // every request a worker took so far
            int waitedBefore = queuedAtLastCheck;
            long startedBefore = startedAtLastCheck;
            queuedAtLastCheck = queued;
            startedAtLastCheck = started;
            int base = config.workers();
            int core = workers.getCorePoolSize();
            if (queued == 0) {
                if (core > base && workers.getActiveCount() <= base) {
                    workers.setCorePoolSize(base); // the extra workers end as they go idle
                    workersAtMaxLogged = false;
                }
                again = workers.getCorePoolSize() > base; // else the next request queued asks again
                return;
            }
            if (started - startedBefore >= waitedBefore) {
                return; // everything queued at the last check has been started since
            }
            if (core >= workersMax) {
                if (!workersAtMaxLogged) {
                    workersAtMaxLogged = true;
                    LOG.log(Level.WARNING, () -> "NBD server: all " + workersMax + " workers are busy and requests"
                            + " wait (the backing device is slow or away?); requests served from the cache wait"
                            + " behind them");
                }
                return;
            }
            int grown = Math.min(workersMax, core + queued);
            workers.setCorePoolSize(grown); // starts workers for the queued requests at once
            long now = System.nanoTime();
            if (now - workersGrownLoggedNanos > TimeUnit.MINUTES.toNanos(1)) {
                workersGrownLoggedNanos = now;
                LOG.log(Level.INFO, () -> "NBD server: every worker busy for " + WORKERS_CHECK_MILLIS + " ms with"
                        + " requests waiting (the backing device is slow or away?): " + grown + " workers now, at most "
                        + workersMax);
            }
        } catch (Throwable t) { // the checks must go on
            LOG.log(Level.ERROR, "NBD server: checking the workers failed", t);
        } finally {
            if (again) {
                scheduleWorkersCheck();
            }
        }
    }

    /**
     * A request was queued for a worker: unless none waits (a worker took it at once) or a check is
     * scheduled already, {@link #checkWorkers} looks in {@link #WORKERS_CHECK_MILLIS}, and goes on
     * looking while requests wait or extra workers run. A server whose requests are all served
     * in place (or taken at once) has no check running.
     */
    void requestQueued() {
        if (!workers.getQueue().isEmpty() && !workersCheckScheduled.get()) {
            scheduleWorkersCheck();
        }
    }

    private void scheduleWorkersCheck() {
        if (workersCheckScheduled.compareAndSet(false, true)) {
            try {
                scheduler.schedule(this::checkWorkers, WORKERS_CHECK_MILLIS, TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                workersCheckScheduled.set(false); // shutting down
            }
        }
    }

    /**
     * Disconnects clients stalled in the middle of a WRITE's payload, and logs the failed requests
     * each connection left out of the log once that is due ({@link NbdConnection#checkStall}).
     */
    private void checkStalls() {
        try {
            List<NbdConnection> open;
            synchronized (lock) {
                if (connections.isEmpty()) {
                    return;
                }
                open = new ArrayList<>(connections);
            }
            long now = System.nanoTime();
            for (NbdConnection connection : open) {
                connection.checkStall(now);
            }
        } catch (Throwable e) {
            // a failed check must not end the periodic task: the next one looks again
            LOG.log(Level.ERROR, "NBD server: checking connections for stalled payloads failed", e);
        }
    }

    /**
     * Starts listening on {@code address}.
     *
     * @return the bound address (with the real port when port 0 was asked for)
     * @throws IOException if the address cannot be bound
     * @throws IllegalArgumentException if other machines can reach the address and clear text may
     *         be served there (TLS off, or only offered), unless the TLS policy allows that
     */
    public SocketAddress listen(ListenAddress address) throws IOException {
        synchronized (lock) {
            if (closed || shuttingDown) {
                throw new IllegalStateException("NBD server is closed; cannot listen on " + address);
            }
        }
        if (address.exposesNetwork()) {
            if (tls.servesCleartext() && !tls.cleartextNetworkAllowed()) {
                throw new IllegalArgumentException(ExportDefinition.cleartextNetworkRefusal(address.toString(), "nbd.",
                        tls.mode()));
            }
            if (tls.servesCleartext()) {
                LOG.log(Level.WARNING, () -> "NBD server listening on " + address + ", reachable from other "
                        + "machines" + (tls.offered() ? " and serving clients that skip TLS in clear text" : " without"
                        + " TLS or authentication") + ": nbd.insecure_allow_cleartext_network=true "
                        + "was configured explicitly (nbd.tls=require refuses clear text)");
            }
        }
        Listener listener = Listener.open(address, channel -> accepted(channel, address));
        synchronized (lock) {
            if (closed || shuttingDown) {
                listener.close();
                throw new IllegalStateException("NBD server closed while binding " + address);
            }
            listeners.add(listener);
        }
        startThread(listener, "pcache-nbd-accept " + address);
        LOG.log(Level.INFO, () -> "NBD server listening on " + address
                + (address.tcp() != null ? " (bound " + listener.boundAddress + ")" : "") + ", TLS " + tls.describe());
        return listener.boundAddress;
    }

    /** The addresses currently listened on. */
    public List<SocketAddress> boundAddresses() {
        synchronized (lock) {
            List<SocketAddress> result = new ArrayList<>();
            listeners.forEach(l -> result.add(l.boundAddress));
            return result;
        }
    }

    /** Exports {@code device} under {@code name} with a generated description. */
    public void export(String name, BlockDevice device) {
        export(name, device, "pcache block device '" + name + "', " + device.sizeBytes() + " bytes");
    }

    /**
     * Exports {@code device} under {@code name}; clients can connect at once.
     *
     * @throws IllegalArgumentException if the name is empty, longer than 4096 UTF-8 bytes or
     *         contains NUL or another control character, or the device's block size is not a power of two up to 64 KiB
     * @throws IllegalStateException if the name is taken or the server is closed
     */
    public void export(String name, BlockDevice device, String description) {
        checkName(name);
        int blockSize = device.logicalBlockSize();
        if (blockSize < 1 || blockSize > 65536 || Integer.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("cannot export '" + name + "': block size " + blockSize
                    + " is not a power of two between 1 and 65536");
        }
        if (device.sizeBytes() % blockSize != 0) {
            LOG.log(Level.WARNING, () -> "export '" + name + "': size " + device.sizeBytes()
                    + " is not a multiple of the block size " + blockSize + "; the tail is unreachable");
        }
        synchronized (lock) {
            if (closed || shuttingDown) {
                throw new IllegalStateException("NBD server is closed; cannot export '" + name + "'");
            }
            if (exports.containsKey(name)) {
                throw new IllegalStateException("an export named '" + name + "' already exists; unexport it first");
            }
            exports.put(name, new Export(name, device, description));
        }
        LOG.log(Level.INFO, () -> "NBD export '" + name + "' available (" + device.sizeBytes() + " bytes)");
    }

    /**
     * Export names are chosen by the operator (they are the cache names, which pcache.engine
     * restricts further to {@code [A-Za-z0-9_.-]{1,64}}); clients can only ask for one of them.
     * Here the NBD rules: not empty, at most 4096 UTF-8 bytes, no NUL, and no control
     * characters, which would only confuse clients' listings and our logs.
     */
    private static void checkName(String name) {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("export name must not be empty");
        }
        if (name.chars().anyMatch(Character::isISOControl)) {
            throw new IllegalArgumentException("export name '" + NbdProtocol.printable(name)
                    + "' contains NUL or another control character");
        }
        if (name.getBytes(StandardCharsets.UTF_8).length > NbdWire.MAX_STRING_BYTES) {
            throw new IllegalArgumentException("export name longer than " + NbdWire.MAX_STRING_BYTES
                    + " UTF-8 bytes");
        }
    }

    /**
     * Withdraws an export: its connections get ESHUTDOWN for new requests, requests in flight
     * finish, then they are closed and the device is flushed once. Bounded by the drain timeout.
     *
     * @return false if there was no such export
     */
    public boolean unexport(String name) {
        Export export;
        synchronized (lock) {
            export = exports.remove(name);
        }
        if (export == null) {
            return false;
        }
        long deadline = System.nanoTime() + config.drainTimeout().toNanos();
        List<NbdConnection> attached = export.withdraw();
        drainAndClose(attached, deadline);
        flushOnce(export, deadline);
        LOG.log(Level.INFO, () -> "NBD export '" + name + "' withdrawn (" + attached.size() + " connection(s) closed)");
        return true;
    }

    /** Every export with its connection count and statistics. */
    public List<ExportInfo> exports() {
        List<ExportInfo> result = new ArrayList<>();
        for (Export e : list()) {
            result.add(e.info());
        }
        return result;
    }

    /** Statistics of one export, if it exists. */
    public Optional<ExportStatistics> statistics(String name) {
        synchronized (lock) {
            Export e = exports.get(name);
            return e == null ? Optional.empty() : Optional.of(e.statistics());
        }
    }

    /** Connections open right now, in handshake or transmission. */
    public int connectionCount() {
        synchronized (lock) {
            return connections.size();
        }
    }

    /** Connections open right now that run TLS. */
    public int tlsConnectionCount() {
        synchronized (lock) {
            return (int) connections.stream().filter(c -> c.tlsChannel() != null).count();
        }
    }

    /** Payload bytes held by requests in flight, summed over every connection. */
    long inflightBytes() {
        return sharedBudget.bytesInFlight();
    }

    /** Requests in flight (accepted, not yet answered), summed over every connection. */
    int inflightRequests() {
        synchronized (lock) {
            return connections.stream().mapToInt(NbdConnection::inflightRequests).sum();
        }
    }

    @Override
    public Export find(String name) {
        synchronized (lock) {
            Export e = exports.get(name);
            if (e == null && name.isEmpty() && exports.size() == 1) {
                e = exports.values().iterator().next(); // the default export: the only one there is
            }
            return e;
        }
    }

    @Override
    public List<Export> list() {
        synchronized (lock) {
            return new ArrayList<>(exports.values());
        }
    }

    @Override
    public boolean isShuttingDown() {
        return shuttingDown;
    }

    /**
     * First step of {@link #close()}: stop accepting connections; clients still haggling get
     * ERR_SHUTDOWN for their options. Visible for tests.
     */
    void beginShutdown() {
        List<Listener> stopping;
        synchronized (lock) {
            shuttingDown = true;
            stopping = new ArrayList<>(listeners);
            listeners.clear();
        }
        stopping.forEach(Listener::close);
    }

    /**
     * Stops the server: no new connections, ERR_SHUTDOWN for options, ESHUTDOWN for new requests;
     * requests in flight finish; each device is flushed once; every connection is closed. Waits
     * at most about the drain timeout. Idempotent.
     */
    @Override
    public void close() {
        List<Export> all;
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
        }
        beginShutdown();
        long deadline = System.nanoTime() + config.drainTimeout().toNanos();
        synchronized (lock) {
            all = new ArrayList<>(exports.values());
            exports.clear();
        }
        List<NbdConnection> attached = new ArrayList<>();
        for (Export e : all) {
            attached.addAll(e.withdraw());
        }
        drainAndClose(attached, deadline);
        for (Export e : all) {
            flushOnce(e, deadline);
        }
        List<NbdConnection> remaining;
        synchronized (lock) {
            remaining = new ArrayList<>(connections);
        }
        remaining.forEach(NbdConnection::abort); // still in the handshake
        workers.shutdown();
        try {
            if (!workers.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                LOG.log(Level.WARNING, "NBD server: device requests still running after the drain timeout");
                workers.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            workers.shutdownNow();
        }
        scheduler.shutdownNow();
        LOG.log(Level.INFO, "NBD server stopped");
    }

    /** Connections already refuse new requests (see Export.withdraw); wait, then close them. */
    private void drainAndClose(List<NbdConnection> attached, long deadline) {
        try {
            for (NbdConnection c : attached) {
                if (!c.awaitIdle(Math.max(0, deadline - System.nanoTime()))) {
                    LOG.log(Level.WARNING, () -> "NBD client " + c.peer
                            + ": requests still in flight after the drain timeout; closing anyway");
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        // every writer told first, then one second for all of them: closed one after the other,
        // each client that stopped reading held the close for a second of its own
        attached.forEach(NbdConnection::finishReplies);
        long writers = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        attached.forEach(c -> c.closeGracefully(writers));
    }

    /** Flushes a device being withdrawn, on a worker so a hung device cannot hold us forever. */
    private void flushOnce(Export export, long deadline) {
        Future<?> flush;
        try {
            flush = workers.submit(() -> {
                export.device.flush();
                return null;
            });
        } catch (RejectedExecutionException e) {
            return;
        }
        try {
            flush.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (ExecutionException e) {
            LOG.log(Level.WARNING, () -> "NBD export '" + export.name + "': final flush failed: " + e.getCause());
        } catch (TimeoutException e) {
            LOG.log(Level.WARNING, () -> "NBD export '" + export.name + "': final flush did not finish in time");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void accepted(SocketChannel channel, ListenAddress from) {
        String peer;
        try {
            if (from.tcp() != null) {
                // NBD clients pipeline small requests and wait for replies; Nagle would add ~40 ms
                channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
                peer = String.valueOf(channel.getRemoteAddress()).replaceFirst("^/", "");
            } else {
                peer = from + "#" + connectionIds.incrementAndGet();
            }
        } catch (IOException e) {
            closeQuietly(channel);
            return;
        }
        NbdConnection connection = new NbdConnection(this, channel, peer);
        synchronized (lock) {
            if (shuttingDown) {
                closeQuietly(channel);
                return;
            }
            if (connections.size() >= config.maxConnections()) {
                LOG.log(Level.WARNING, () -> "NBD client " + peer + " refused: " + config.maxConnections()
                        + " connections already open (max_connections)");
                closeQuietly(channel);
                return;
            }
            connections.add(connection);
        }
        try {
            startThread(connection, "pcache-nbd-conn " + peer);
        } catch (RuntimeException | OutOfMemoryError e) {
            connectionEnded(connection);
            closeQuietly(channel);
            LOG.log(Level.WARNING, () -> "NBD client " + peer + " refused: cannot start a thread: " + e);
        }
    }

    void connectionEnded(NbdConnection connection) {
        synchronized (lock) {
            connections.remove(connection);
        }
    }

    void startThread(Runnable task, String name) {
        Thread t = new Thread(task, name);
        t.setDaemon(true);
        t.start();
    }

    private static void closeQuietly(SocketChannel channel) {
        try {
            channel.close();
        } catch (IOException e) {
            // nothing to do: the client is gone either way
        }
    }

    private static ThreadFactory daemonThreads(String prefix) {
        AtomicLong n = new AtomicLong();
        ThreadFactory base = Executors.defaultThreadFactory();
        return r -> {
            Thread t = base.newThread(r);
            t.setName(prefix + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
