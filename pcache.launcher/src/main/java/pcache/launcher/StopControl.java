package pcache.launcher;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Stops the framework cleanly when the process is asked to end, so that every cache persists
 * its state: SIGTERM and SIGINT start an orderly stop (the launcher then exits 0); a second
 * signal, or a stop that takes longer than {@link #STOP_TIMEOUT}, ends the process at once. A
 * shutdown hook covers every other way out of the JVM (the stop is bounded there too).
 *
 * <p>It is installed before the framework starts: a signal while the framework starts (its
 * caches opening, replaying their logs) is kept, and the launcher stops the framework as soon
 * as it has started ({@link #attach}). Before, such a signal found the JVM's own handling, which
 * ended the process without closing the caches.
 */
final class StopControl {

    private static final System.Logger LOG = System.getLogger(StopControl.class.getName());
    /** Bound on an orderly stop: components flush and close their devices within it. */
    static final Duration STOP_TIMEOUT = Duration.ofSeconds(60);

    /** The framework once started; null before (a signal is then kept in {@link #pending}). */
    private EmbeddedFramework framework;
    /** The signal that came while the framework started, or null. */
    private String pending;
    /** Released once the framework is attached, or the launcher gave up starting it. */
    private final java.util.concurrent.CountDownLatch settled = new java.util.concurrent.CountDownLatch(1);
    private volatile Runnable cleanup = () -> { };
    private final AtomicInteger signals = new AtomicInteger();
    private final java.util.concurrent.atomic.AtomicBoolean watched = new java.util.concurrent.atomic.AtomicBoolean();
    /** When the watchdog halts the JVM if the framework still runs ({@link System#nanoTime()}). */
    private volatile long deadlineNanos;
    private final Thread hook;

    private StopControl() {
        this.hook = new Thread(this::onJvmExit, "pcache-shutdown");
    }

    /** Installs the signal handlers and the shutdown hook, before the framework starts. */
    static StopControl install() {
        StopControl control = new StopControl();
        Runtime.getRuntime().addShutdownHook(control.hook);
        control.handle("TERM");
        control.handle("INT");
        return control;
    }

    /**
     * The framework has started and the launcher has checked it: from now on signals stop it
     * (before, a stop would run under the launcher's checks and confuse them).
     *
     * @return the signal that came while it started (the launcher stops it at once, and says
     *         so), or empty
     */
    synchronized java.util.Optional<String> attach(EmbeddedFramework started) {
        framework = started;
        settled.countDown();
        if (pending != null) {
            LOG.log(System.Logger.Level.INFO, "SIG{0} came while starting: stopping", pending);
        }
        return java.util.Optional.ofNullable(pending);
    }

    /**
     * Run once the framework stopped in the shutdown hook (e.g. remove the control socket); must
     * be idempotent.
     */
    void onExit(Runnable work) {
        cleanup = work;
    }

    private synchronized EmbeddedFramework framework() {
        return framework;
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
        EmbeddedFramework started;
        synchronized (this) {
            started = framework;
            if (started == null) {
                pending = name;
            }
        }
        if (started == null) {
            LOG.log(System.Logger.Level.INFO, "SIG{0} while starting: stopping as soon as the framework has started "
                    + "(a second signal exits at once)", name);
            watch(STOP_TIMEOUT.multipliedBy(2)); // the rest of the start, then the stop
            return;
        }
        LOG.log(System.Logger.Level.INFO, "SIG{0}: stopping", name);
        watch(STOP_TIMEOUT);
        started.requestStop();
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
            EmbeddedFramework started = framework();
            if (started == null) { // a signal while starting, and the start has not ended since
                LOG.log(System.Logger.Level.ERROR, "the framework did not finish starting and stop within {0} s of the"
                        + " signal: exiting anyway", STOP_TIMEOUT.multipliedBy(2).toSeconds());
                Runtime.getRuntime().halt(1);
            }
            if (started != null && started.isActive()) {
                LOG.log(System.Logger.Level.ERROR, "the framework did not stop within {0} s: exiting anyway",
                        STOP_TIMEOUT.toSeconds());
                Runtime.getRuntime().halt(1);
            }
        }, "pcache-stop-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
    }

    private void onJvmExit() {
        try {
            // the JVM exits while the framework starts: wait for it, then stop it
            if (!settled.await(STOP_TIMEOUT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)) {
                LOG.log(System.Logger.Level.ERROR, "JVM exiting: the framework did not finish starting within {0} s",
                        STOP_TIMEOUT.toSeconds());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        EmbeddedFramework started = framework();
        if (started != null && started.isActive()) {
            LOG.log(System.Logger.Level.INFO, "JVM exiting: stopping the framework");
            started.stop(STOP_TIMEOUT);
        }
        cleanup.run();
    }

    /**
     * Removes the shutdown hook once the launcher has stopped the framework itself, or gave up
     * starting it.
     */
    void uninstall() {
        settled.countDown();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // already shutting down: the hook runs and finds the framework stopped
        }
    }
}
