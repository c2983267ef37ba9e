package pcache.backing.nbd.internal;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import pcache.api.BackingDeviceException;
import pcache.api.BackingState;
import pcache.api.DeviceClosedException;
import pcache.api.nbd.NbdWire;
import pcache.api.tls.TlsEndpoint;
import pcache.io.log.Log;

/**
 * The connection of one {@link NbdBackingDevice} through its life: hands requests to the live
 * connection or parks them while there is none, reconnects in the background with exponential
 * back-off after a loss and re-sends every request that had no reply, refuses a server whose
 * export no longer fits the {@link WireGeometry} (the device then stays
 * {@link BackingState#FAILING}), keeps the {@link DurabilityTracker} informed of
 * acknowledgements and losses, and closes.
 *
 * <p>All of this state is guarded by one lock; the connections call back through
 * {@link NbdConnection.Listener} from their own threads.
 */
final class ConnectionManager {

    /** The device's logger: these messages are about the device. */
    private static final System.Logger LOG = Log.of(NbdBackingDevice.class);

    /** How long a lost connection's threads get to finish before the socket is closed. */
    static final long GRACE_MILLIS = 1000;

    private final NbdSettings settings;
    private final TlsEndpoint tls;
    private final String server;
    private final WireGeometry geometry;
    private final ScheduledThreadPoolExecutor scheduler;

    private final Object lock = new Object();
    // --- guarded by lock ---
    private NbdConnection current;
    private final List<NbdRequest> parked = new ArrayList<>();
    private final DurabilityTracker durability = new DurabilityTracker();
    private long cookies;
    private boolean closed;
    private String refusal;
    private NbdConnection lostConnection;
    private long lostAtNanos;
    private int attempts;
    private long backoffMillis;
    /** When the current connection started (its handshake done). */
    private long connectedAtNanos = System.nanoTime();
    private String lastConnectError;
    private final AtomicInteger reconnects = new AtomicInteger();
    private volatile BackingState state = BackingState.ONLINE;

    /** @param tls the client's TLS credentials, reused by every reconnect; null in clear text */
    ConnectionManager(NbdSettings settings, TlsEndpoint tls, WireGeometry geometry,
            ScheduledThreadPoolExecutor scheduler) {
        this.settings = settings;
        this.tls = tls;
        this.server = settings.uri().location();
        this.geometry = geometry;
        this.scheduler = scheduler;
        this.backoffMillis = settings.reconnectInitialBackoff().toMillis();
    }

    /** The scheduler for connect watchdogs and reconnect attempts of the device {@code name}. */
    static ScheduledThreadPoolExecutor newScheduler(String name) {
        AtomicInteger threads = new AtomicInteger();
        ScheduledThreadPoolExecutor scheduler = new ScheduledThreadPoolExecutor(2, r -> {
            Thread t = new Thread(r, "pcache-nbd-" + name + "-reconnect-" + threads.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        scheduler.setRemoveOnCancelPolicy(true);
        return scheduler;
    }

    /** Starts transmission on the first connection. */
    void attachFirst(Connector.Link link) {
        synchronized (lock) {
            current = new NbdConnection(settings.name(), server, link, listener);
            connectedAtNanos = System.nanoTime();
            current.start();
        }
    }

    BackingState state() {
        return state;
    }

    /**
     * Whether the live connection's server offers block status ({@code base:allocation});
     * {@code first}'s answer while there is none. A server that comes back after a restart may
     * no longer offer it: its connection must not be sent the command.
     */
    boolean canBlockStatus(ExportInfo first) {
        synchronized (lock) {
            return (current != null ? current.export() : first).canBlockStatus();
        }
    }

    /** Number of successful reconnects so far. */
    int reconnectCount() {
        return reconnects.get();
    }

    // ------------------------------------------------------------------ requests

    /** Hands a request to the live connection, or parks it while reconnecting. */
    void dispatch(NbdRequest request) throws IOException {
        synchronized (lock) {
            checkUsableLocked();
            if (current != null) {
                if (answeredWithoutServer(request, current)) {
                    return;
                }
                current.submit(request, ++cookies);
            } else {
                parked.add(request);
            }
            request.dispatched = true;
        }
    }

    /**
     * Its caller gave {@code request} up: if it waits for the next connection, it leaves the
     * queue now, with its payload (a WRITE's copy, a READ's buffer, up to 32 MiB each), instead
     * of at the reconnect, which may be minutes away while callers keep timing out. It was not
     * sent since its last connection ended, so it is settled.
     */
    void givenUp(NbdRequest request) {
        synchronized (lock) {
            if (parked.remove(request)) {
                request.settle();
            }
        }
    }

    /**
     * A BLOCK_STATUS for a connection whose server does not offer {@code base:allocation} (one
     * asked for while the device reconnected, to a server that came back without it): answered
     * here as all data, which the contract allows, instead of sent (the spec forbids the command
     * without a selected context; the server would answer EINVAL). The caller holds the lock.
     */
    private static boolean answeredWithoutServer(NbdRequest request, NbdConnection connection) {
        if (request.command != NbdCommand.BLOCK_STATUS || connection.export().canBlockStatus()) {
            return false;
        }
        request.extents = List.of(new long[] {request.length, 0});
        request.settle();
        request.completion.complete(null);
        return true;
    }

    /** Requests waiting for the next connection (tests). */
    int parkedCount() {
        synchronized (lock) {
            return parked.size();
        }
    }

    /** Fails if the device is closed or refused its server. */
    void checkUsable() throws IOException {
        synchronized (lock) {
            checkUsableLocked();
        }
    }

    private void checkUsableLocked() throws IOException {
        if (closed) {
            throw closedException();
        }
        if (refusal != null) {
            throw new BackingDeviceException(refusal);
        }
    }

    /** Gives a FLUSH its ticket before it is dispatched (see {@link DurabilityTracker}). */
    void flushStarted(NbdRequest flush) {
        synchronized (lock) {
            flush.flushTicket = durability.flushStarted();
        }
    }

    /**
     * Fails if a write of {@code written} (acknowledged without FUA) was acknowledged on a
     * connection lost before a flush there covered it: a flush since, which another caller may
     * already have been told of that loss by, does not make it durable.
     */
    void checkFlushed(List<DurabilityTracker.Acknowledged> written, String what) throws BackingDeviceException {
        synchronized (lock) {
            long lost = written.stream().filter(w -> w != null && !DurabilityTracker.flushed(w)).count();
            if (lost > 0) {
                throw new BackingDeviceException(server + ": " + what + " failed: " + lost + " of its "
                        + written.size() + " part(s) were acknowledged on a connection that was lost before a flush"
                        + " covered them; the server may have lost them, so the flush that stands in for FUA cannot"
                        + " vouch for them: write the data again");
            }
        }
    }

    /** Returns a FLUSH's ticket once its caller stops waiting for it. */
    void flushFinished(NbdRequest flush) {
        synchronized (lock) {
            durability.flushFinished(flush.flushTicket);
        }
    }

    /** Why a request may have gone unanswered, for its timeout message. */
    String whyUnanswered() {
        synchronized (lock) {
            if (state == BackingState.RECONNECTING) {
                return "the connection was lost " + TimeUnit.NANOSECONDS.toMillis(
                        System.nanoTime() - lostAtNanos) + " ms ago and " + attempts
                        + " reconnect attempt(s) failed"
                        + (lastConnectError == null ? "" : "; last error: " + lastConnectError);
            }
            return "the server did not answer";
        }
    }

    /**
     * A request timed out. If the server has sent nothing at all for a whole io_timeout while
     * requests wait, the connection is presumed dead (a vanished host leaves a TCP connection
     * open for hours): drop it and reconnect, which re-sends the other waiting requests.
     */
    void dropIfSilent() {
        NbdConnection connection;
        synchronized (lock) {
            connection = current;
        }
        long timeoutNanos = settings.ioTimeout().toNanos();
        if (connection != null && timeoutNanos > 0 && connection.inFlightCount() > 0
                && connection.silenceNanos() >= timeoutNanos) {
            connection.fail(new BackingDeviceException(server + ": the server sent nothing for "
                    + TimeUnit.NANOSECONDS.toMillis(connection.silenceNanos()) + " ms while "
                    + "requests were waiting (io_timeout_ms " + settings.ioTimeout().toMillis()
                    + "); presumed dead"), false);
        }
    }

    DeviceClosedException closedException() {
        return new DeviceClosedException(server + ": the NBD backing device '" + settings.name()
                + "' is closed");
    }

    /**
     * Disconnects (NBD_CMD_DISC), closes the socket, stops reconnecting and fails waiting
     * requests with {@link DeviceClosedException}. Idempotent.
     */
    void close() {
        List<NbdRequest> waiting = new ArrayList<>();
        NbdConnection connection;
        NbdConnection lost;
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            state = BackingState.UNAVAILABLE;
            connection = current;
            current = null;
            lost = lostConnection;
            lostConnection = null;
            waiting.addAll(parked);
            parked.clear();
            if (connection != null) {
                waiting.addAll(connection.drainUnanswered());
            }
        }
        DeviceClosedException closing = closedException();
        for (NbdRequest request : waiting) {
            request.abandon(closing);
            request.settle();
        }
        if (connection != null) {
            connection.disconnect(GRACE_MILLIS);
        }
        if (lost != null) {
            lost.awaitThreads(GRACE_MILLIS); // bounded: its sender may be stuck writing to a server that stopped reading
        }
        scheduler.shutdownNow();
        try {
            scheduler.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        LOG.log(Level.INFO, () -> settings.name() + ": disconnected from " + server);
    }

    // ------------------------------------------------------------------ connection events

    private final NbdConnection.Listener listener = new NbdConnection.Listener() {
        @Override
        public void replied(NbdConnection connection, NbdRequest request, IOException error) {
            IOException failure = error;
            synchronized (lock) {
                if (connection.isLost()) {
                    return; // it stays unanswered and is sent again after the reconnect
                }
                connection.answered(request);
                request.settle();
                if (error == null) {
                    failure = acknowledgedLocked(connection, request);
                }
            }
            if (failure == null) {
                request.completion.complete(null);
            } else {
                request.completion.completeExceptionally(failure);
            }
        }

        @Override
        public void flushSending(NbdConnection connection, NbdRequest flush) {
            synchronized (lock) {
                flush.coverageAtSend = durability.acknowledgedSoFar();
            }
        }

        @Override
        public void lost(NbdConnection connection, IOException cause) {
            connectionLost(connection, cause);
        }
    };

    /**
     * Records a successful reply with the durability tracker; returns the failure of a FLUSH
     * that cannot cover what it must, else null. The caller holds the lock.
     */
    private IOException acknowledgedLocked(NbdConnection connection, NbdRequest request) {
        boolean fua = (request.flags & NbdWire.CMD_FLAG_FUA) != 0;
        if ((request.command == NbdCommand.WRITE || request.command == NbdCommand.WRITE_ZEROES)
                && !fua) {
            request.acknowledged = new DurabilityTracker.Acknowledged(connection.durability,
                    durability.writeAcknowledged(connection.durability));
        } else if (request.command == NbdCommand.FLUSH && request.flushTicket != null) {
            // the failure is completed here, under the lock: a loss counts as reported only if
            // the flush's caller is still there to get it
            String lossReason = durability.flushAcknowledged(connection.durability,
                    request.coverageAtSend, request.flushTicket, reason -> request.completion
                            .completeExceptionally(new BackingDeviceException(server + ": flush failed: " + reason)));
            if (lossReason != null) {
                return new BackingDeviceException(server + ": flush failed: " + lossReason); // completed already, or given up
            }
        }
        return null;
    }

    private void connectionLost(NbdConnection connection, IOException cause) {
        int waiting;
        synchronized (lock) {
            if (connection != current) {
                return;
            }
            current = null;
            durability.connectionLost(connection.durability, cause.getMessage());
            parked.addAll(0, connection.drainUnanswered());
            waiting = parked.size();
            if (closed) {
                return;
            }
            state = BackingState.RECONNECTING;
            lostConnection = connection;
            lostAtNanos = System.nanoTime();
            attempts = 0;
            lastConnectError = null;
            if (lostAtNanos - connectedAtNanos >= settings.reconnectMaxBackoff().toNanos()) {
                backoffMillis = settings.reconnectInitialBackoff().toMillis();
                schedule(0);
            } else {
                // lost soon after it was made (a request that makes the server drop the
                // connection, re-sent on every new one): back off as after a failed connect,
                // or this would be a tight loop of connects, handshakes and re-sends
                long delay = backoffMillis;
                backoffMillis = Math.min(backoffMillis * 2, settings.reconnectMaxBackoff().toMillis());
                schedule(delay);
            }
        }
        LOG.log(Level.WARNING, settings.name() + ": " + cause.getMessage() + "; reconnecting, "
                + waiting + " request(s) wait for the new connection");
    }

    // ------------------------------------------------------------------ reconnecting

    /** Schedules a reconnect attempt; the caller holds the lock. */
    private void schedule(long delayMillis) {
        try {
            scheduler.schedule(this::reconnectAttempt, delayMillis, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            // only after close(), which shuts the scheduler down
        }
    }

    private void reconnectAttempt() {
        NbdConnection old;
        synchronized (lock) {
            if (closed || state != BackingState.RECONNECTING) {
                return;
            }
            old = lostConnection;
            lostConnection = null;
            attempts++;
        }
        if (old != null) {
            old.awaitThreads(GRACE_MILLIS); // nothing of it may touch a request we re-send
        }
        Connector.Link link;
        try {
            link = Connector.connect(settings.uri(), tls, settings.connectTimeout(), scheduler);
        } catch (NbdConnectException e) {
            retryLater(e);
            return;
        } catch (RuntimeException | Error e) {
            // nothing may end the reconnect task without scheduling the next: the device would
            // stay RECONNECTING for good, its requests waiting
            retryLater(new NbdConnectException(NbdConnectException.Reason.PROTOCOL, server
                    + ": reconnecting failed: " + e, e));
            return;
        }
        String incompatible = geometry.incompatibility(link.export());
        if (incompatible != null) {
            refuse(link, incompatible);
            return;
        }
        resume(link);
    }

    /** Makes a new connection the current one and re-sends the parked requests on it. */
    private void resume(Connector.Link link) {
        NbdConnection connection = new NbdConnection(settings.name(), server, link, listener);
        int resent = 0;
        long downMillis;
        synchronized (lock) {
            if (closed) {
                Connector.closeQuietly(link.channel());
                return;
            }
            current = connection;
            connectedAtNanos = System.nanoTime();
            // counted before any re-sent request can complete, so that its caller sees it
            reconnects.incrementAndGet();
            connection.start();
            for (NbdRequest request : parked) {
                if (answeredWithoutServer(request, connection)) {
                    continue;
                }
                if (!request.isDone()) {
                    connection.submit(request, ++cookies);
                    resent++;
                } else {
                    request.settle(); // given up on, and its connection is gone: it never arrives
                }
            }
            parked.clear();
            state = BackingState.ONLINE;
            downMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - lostAtNanos);
        }
        int count = resent;
        LOG.log(Level.INFO, () -> settings.name() + ": reconnected to " + server + " after "
                + downMillis + " ms (" + attempts + " attempt(s)); re-sent " + count + " request(s)");
    }

    private void retryLater(NbdConnectException e) {
        boolean news;
        synchronized (lock) {
            if (closed) {
                return;
            }
            news = !e.getMessage().equals(lastConnectError);
            lastConnectError = e.getMessage();
            long delay = backoffMillis;
            backoffMillis = Math.min(backoffMillis * 2, settings.reconnectMaxBackoff().toMillis());
            schedule(delay);
        }
        // a refusal that repeats is logged once; one that will not fix itself is an error
        Level level = !news ? Level.DEBUG
                : e.configurationProblem() ? Level.ERROR : Level.WARNING;
        LOG.log(level, () -> settings.name() + ": reconnect attempt failed: " + e.getMessage());
    }

    private void refuse(Connector.Link link, String reason) {
        List<NbdRequest> waiting;
        String message = server + ": refusing the reconnected server: " + reason + "; the "
                + "backing device '" + settings.name() + "' stays failed until it is reconfigured";
        synchronized (lock) {
            if (closed) {
                Connector.closeQuietly(link.channel());
                return;
            }
            refusal = message;
            state = BackingState.FAILING;
            waiting = new ArrayList<>(parked);
            parked.clear();
        }
        Connector.disconnect(link);
        BackingDeviceException failure = new BackingDeviceException(message);
        for (NbdRequest request : waiting) {
            request.abandon(failure);
            request.settle(); // never sent again: a read-modify-write may let its blocks go
        }
        LOG.log(Level.ERROR, message);
    }
}
