package pcache.backing.nbd.internal;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.util.function.Consumer;

import pcache.api.tls.TlsEndpoint;
import pcache.io.log.Log;


/**
 * Establishes the first connection of a configured device in the background, retrying with the
 * configured back-off until it succeeds or is closed, then hands the online device over.
 *
 * <p>Why not fail or block activation: a device is published only once its size is known (the
 * cache checks the backing identity, which includes the size), and an NBD server that starts
 * after pcache must still be picked up without touching the configuration. Until then there is
 * simply no backing service, so a cache waits for one instead of writing back to nothing.
 */
final class ConnectLoop implements AutoCloseable {

    private static final System.Logger LOG = Log.of(ConnectLoop.class);

    private final NbdSettings settings;
    private final TlsEndpoint tls;
    private final Consumer<NbdBackingDevice> onConnected;
    private final Thread thread;
    private final Object lock = new Object();
    // guarded by lock
    private boolean closed;
    private NbdBackingDevice device;
    private String lastError;

    /** @param tls the loaded TLS credentials, null exactly when the URI is clear text */
    ConnectLoop(NbdSettings settings, TlsEndpoint tls, Consumer<NbdBackingDevice> onConnected) {
        this.settings = settings;
        this.tls = tls;
        this.onConnected = onConnected;
        this.thread = new Thread(this::run, "pcache-nbd-" + settings.name() + "-connect");
        thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    /** The connected device, or null while still trying. */
    NbdBackingDevice device() {
        synchronized (lock) {
            return device;
        }
    }

    /** The last connect error, or null. */
    String lastError() {
        synchronized (lock) {
            return lastError;
        }
    }

    private void run() {
        long backoff = settings.reconnectInitialBackoff().toMillis();
        int attempt = 0;
        while (true) {
            attempt++;
            NbdBackingDevice connected;
            try {
                connected = NbdBackingDevice.connect(settings, tls);
            } catch (IOException | RuntimeException | Error e) {
                // any failure: this thread must go on trying, not end unnoticed
                IOException failure = e instanceof IOException io ? io
                        : new IOException(settings.uri().location() + ": connecting failed: " + e, e);
                if (!report(failure, attempt)) {
                    return;
                }
                try {
                    Thread.sleep(backoff);
                } catch (InterruptedException interrupted) {
                    return; // closed
                }
                backoff = Math.min(backoff * 2, settings.reconnectMaxBackoff().toMillis());
                continue;
            }
            synchronized (lock) {
                if (closed) {
                    connected.close();
                    return;
                }
                device = connected;
            }
            onConnected.accept(connected);
            return;
        }
    }

    /** Logs a failed attempt; returns false if the loop was closed meanwhile. */
    private boolean report(IOException e, int attempt) {
        boolean news;
        synchronized (lock) {
            if (closed) {
                return false;
            }
            news = !String.valueOf(e.getMessage()).equals(lastError);
            lastError = e.getMessage();
        }
        if (news) {
            boolean configurationProblem = e instanceof NbdConnectException c
                    && c.configurationProblem();
            LOG.log(configurationProblem ? Level.ERROR : Level.WARNING, settings.name()
                    + ": cannot connect to the NBD backing device (attempt " + attempt + "): "
                    + e.getMessage() + "; retrying every "
                    + settings.reconnectMaxBackoff().toMillis() + " ms at most, the device is "
                    + "published once connected");
        } else {
            LOG.log(Level.DEBUG, () -> settings.name() + ": connect attempt " + attempt
                    + " failed: " + e.getMessage());
        }
        return true;
    }

    /** Stops trying and closes the device if it was connected. */
    @Override
    public void close() {
        NbdBackingDevice connected;
        synchronized (lock) {
            closed = true;
            connected = device;
            device = null;
        }
        thread.interrupt();
        try {
            thread.join(settings.connectTimeout().toMillis() + 5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (connected != null) {
            connected.close();
        }
    }
}
