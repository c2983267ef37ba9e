package pcache.backing.nbd.internal;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.ArrayDeque;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import pcache.api.BackingDeviceException;
import pcache.api.BackingUnavailableException;

/**
 * Runs the NBD requests of one caller's request: sends its parts pipelined through the
 * {@link ConnectionManager}, bounded by a window of requests and payload bytes, and waits for
 * each until the caller's {@link Deadline}. A part that times out is abandoned (never re-sent)
 * and may make the connection be presumed dead.
 */
final class RequestPipeline {

    /** Payload bytes of one caller's request in flight at once (bounds the private copies). */
    private static final long WINDOW_BYTES = 64L << 20;
    /** Parts of one caller's request in flight at once. */
    private static final int WINDOW_REQUESTS = 64;

    /** Consumes completed parts in order. */
    interface Sink {
        void accept(NbdRequest part) throws IOException;
    }

    private final NbdSettings settings;
    private final String server;
    private final ConnectionManager connections;

    RequestPipeline(NbdSettings settings, ConnectionManager connections) {
        this.settings = settings;
        this.server = settings.uri().location();
        this.connections = connections;
    }

    /** A deadline of {@code io_timeout_ms} from now. */
    Deadline newDeadline() {
        return Deadline.after(settings.ioTimeout());
    }

    /**
     * Sends the parts of one caller request pipelined, at most {@link #WINDOW_REQUESTS} and
     * {@link #WINDOW_BYTES} of payload at a time, and waits for all of them, handing each
     * completed part to {@code sink} (if not null) in order. If one fails, the others are
     * abandoned (never re-sent) and the failure is thrown.
     */
    void run(RequestParts.Source parts, Deadline deadline, Sink sink) throws IOException {
        ArrayDeque<NbdRequest> window = new ArrayDeque<>();
        long windowBytes = 0;
        try {
            for (NbdRequest part = parts.next(); part != null; part = parts.next()) {
                while (!window.isEmpty() && (window.size() >= WINDOW_REQUESTS
                        || windowBytes + part.payloadBytes() > WINDOW_BYTES)) {
                    NbdRequest done = window.removeFirst();
                    windowBytes -= done.payloadBytes();
                    complete(done, deadline, sink);
                }
                connections.dispatch(part);
                window.addLast(part);
                windowBytes += part.payloadBytes();
            }
            while (!window.isEmpty()) {
                complete(window.removeFirst(), deadline, sink);
            }
        } catch (IOException | RuntimeException e) {
            for (NbdRequest left : window) {
                left.abandon(new BackingDeviceException(server + ": " + left + " abandoned because "
                        + "another part of the same request failed"));
                connections.givenUp(left);
            }
            throw e;
        }
    }

    private void complete(NbdRequest part, Deadline deadline, Sink sink) throws IOException {
        await(part, deadline);
        if (sink != null) {
            sink.accept(part);
        }
    }

    /** Fails if the device is closed or refused its server. */
    void checkUsable() throws IOException {
        connections.checkUsable();
    }

    /** Sends a FLUSH and waits for it; it fails if it cannot cover what it must. */
    void flush(Deadline deadline) throws IOException {
        NbdRequest flush = NbdRequest.payloadless(NbdCommand.FLUSH, 0, 0, 0);
        connections.flushStarted(flush);
        try {
            connections.dispatch(flush);
            await(flush, deadline);
        } finally {
            connections.flushFinished(flush);
        }
    }

    private void await(NbdRequest request, Deadline deadline) throws IOException {
        try {
            if (deadline.unbounded()) {
                request.completion.get();
            } else {
                request.completion.get(Math.max(0, deadline.remainingNanos()), TimeUnit.NANOSECONDS);
            }
        } catch (TimeoutException e) {
            BackingUnavailableException timeout = timedOut(request, deadline);
            if (request.abandon(timeout)) {
                connections.givenUp(request);
                connections.dropIfSilent();
                throw timeout;
            }
            outcome(request); // it completed just now
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            InterruptedIOException interrupted = new InterruptedIOException(server
                    + ": interrupted while waiting for " + request);
            request.abandon(interrupted);
            connections.givenUp(request);
            throw interrupted;
        } catch (ExecutionException e) {
            throw asIOException(e.getCause());
        }
    }

    private void outcome(NbdRequest request) throws IOException {
        try {
            request.completion.getNow(null);
        } catch (CompletionException e) {
            throw asIOException(e.getCause());
        }
    }

    private IOException asIOException(Throwable cause) {
        if (cause instanceof IOException io) {
            return io;
        }
        return new BackingDeviceException(server + ": " + cause, cause);
    }

    private BackingUnavailableException timedOut(NbdRequest request, Deadline deadline) {
        return new BackingUnavailableException(server + ": " + request + " did not complete within "
                + deadline.elapsedMillis() + " ms (io_timeout_ms " + settings.ioTimeout().toMillis()
                + "); " + connections.whyUnanswered());
    }
}
