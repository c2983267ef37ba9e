package pcache.launcher;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Stops the framework cleanly when the process is asked to end, so that every cache persists
 * its state: SIGTERM and SIGINT start an orderly stop (the launcher then exits 0); a second
 * signal, or a stop that takes longer than {@link #STOP_TIMEOUT}, ends the process at once. A
 * shutdown hook covers every other way out of the JVM (the stop is bounded there too).
 */
final class StopControl {

    private static final System.Logger LOG = System.getLogger(StopControl.class.getName());
    /** Bound on an orderly stop: components flush and close their devices within it. */
    static final Duration STOP_TIMEOUT = Duration.ofSeconds(60);

    private final EmbeddedFramework framework;
    private final Runnable cleanup;
    private final AtomicInteger signals = new AtomicInteger();
    private final java.util.concurrent.atomic.AtomicBoolean watched = new java.util.concurrent.atomic.AtomicBoolean();
    /** When the watchdog halts the JVM if the framework still runs ({@link System#nanoTime()}). */
    private volatile long deadlineNanos;
    private final Thread hook;

    private StopControl(EmbeddedFramework framework, Runnable cleanup) {
        this.framework = framework;
        this.cleanup = cleanup;
        this.hook = new Thread(this::onJvmExit, "pcache-shutdown");
    }

    /**
     * Installs the signal handlers and the shutdown hook.
     *
     * @param cleanup run once the framework stopped in the shutdown hook (e.g. remove the
     *        control socket); must be idempotent
     */
    static StopControl install(EmbeddedFramework framework, Runnable cleanup) {
        StopControl control = new StopControl(framework, cleanup);
        Runtime.getRuntime().addShutdownHook(control.hook);
        control.handle("TERM");
        control.handle("INT");
        return control;
    }

    private void handle(String signal) {
        try {
            sun.misc.Signal.handle(new sun.misc.Signal(signal), s -> onSignal(s.getName()));
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            // signal not available here: the shutdown hook still stops the framework
            LOG.log(System.Logger.Level.DEBUG, "cannot handle SIG{0}: {1}", signal, e.getMessage());
        }
    }

    private void onSignal(String name) {
        if (signals.incrementAndGet() > 1) {
            LOG.log(System.Logger.Level.WARNING, "SIG{0} again: exiting without waiting for the stop", name);
            Runtime.getRuntime().halt(1);
        }
        LOG.log(System.Logger.Level.INFO, "SIG{0}: stopping", name);
        watch(STOP_TIMEOUT);
        framework.requestStop();
    }

    /**
     * A stop that did not come from a signal has begun (a stop command through the control
     * socket or the shell, which answers at once): it is bounded as a signal's is. Before, nothing
     * bounded it.
     */
    void stopBegan() {
        LOG.log(System.Logger.Level.INFO, "the framework is stopping");
        watch(STOP_TIMEOUT);
    }

    /**
     * Halts the JVM if the framework still runs {@code bound} from now. Called again, the deadline
     * moves, whatever it was: a restart request first waits for Felix's own restart, then stops,
     * and each gets its own bound.
     */
    void watch(Duration bound) {
        deadlineNanos = System.nanoTime() + bound.toNanos();
        if (!watched.compareAndSet(false, true)) {
            return; // the running watchdog reads the new deadline
        }
        Thread watchdog = new Thread(() -> {
            while (true) {
                long remaining = deadlineNanos - System.nanoTime();
                if (remaining <= 0) {
                    break;
                }
                try {
                    Thread.sleep(Math.max(1, remaining / 1_000_000));
                } catch (InterruptedException e) {
                    return;
                }
            }
            if (framework.isActive()) {
                LOG.log(System.Logger.Level.ERROR, "the framework did not stop within {0} s: exiting anyway",
                        STOP_TIMEOUT.toSeconds());
                Runtime.getRuntime().halt(1);
            }
        }, "pcache-stop-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
    }

    private void onJvmExit() {
        if (framework.isActive()) {
            LOG.log(System.Logger.Level.INFO, "JVM exiting: stopping the framework");
            framework.stop(STOP_TIMEOUT);
        }
        cleanup.run();
    }

    /** Removes the shutdown hook once the launcher has stopped the framework itself. */
    void uninstall() {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // already shutting down: the hook runs and finds the framework stopped
        }
    }
}
