package pcache.engine.internal;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Hashtable;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

import org.osgi.service.component.ComponentConstants;
import org.osgi.service.component.ComponentFactory;
import org.osgi.service.component.ComponentInstance;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.component.runtime.ServiceComponentRuntime;
import org.osgi.service.metatype.annotations.Designate;

import pcache.api.CacheConfigurationException;
import pcache.api.CacheDevice;
import pcache.api.CacheMode;
import pcache.api.CacheOpenFailure;
import pcache.api.spi.BackingDevice;
import pcache.api.spi.CrcProvider;
import pcache.api.spi.KeyIndexProvider;
import pcache.api.spi.PmemProvider;
import pcache.api.spi.PmemRegion;
import pcache.api.spi.SegmentAllocatorProvider;
import pcache.api.spi.WritebackPolicy;
import pcache.engine.internal.engine.CacheEngine;
import pcache.engine.internal.engine.EngineConfig;
import pcache.io.lock.DeviceFileLock;
import pcache.io.log.Log;
import pcache.io.scr.BackingFailures;

/**
 * One cache per factory configuration of {@value #PID}: assembles the engine from the services
 * its configuration selects (reference targets), opens it in the background and, once it is
 * ready, has DS register its {@link CacheDevice} service (property {@value CacheDevice#NAME}).
 *
 * <p>The service belongs to an instance of the factory component {@link CacheDeviceService}, the
 * backing bundles' pattern: this configured component registers no service itself (DS would
 * register it before activation, while the cache opens only afterwards, on the control thread,
 * possibly replaying a large log). Once the cache is open it creates an instance through DS's
 * {@code ComponentFactory}, handing over the {@link CacheDeviceFacade} in a private property and
 * {@value CacheDevice#NAME} and {@code pcache.cache.dev} as the service properties; deactivation
 * disposes the instance (DS withdraws the service) before it closes the cache. No
 * {@code service.pid} is handed on: Felix SCR 2.2 fails {@code newInstance} when the properties
 * carry one and the factory component has no configuration of its own.
 *
 * <p>An open that fails publishes why the same way, through the factory component
 * {@link CacheOpenFailureService} ({@link CacheOpenFailure}, with the cache's name and the reason as
 * service properties), until the cache tries again, opens or is deactivated: so the launcher's
 * {@code -c}, {@code pcache:create} and the health checks can say why at once instead of waiting
 * for a service that is not coming.
 *
 * <p>The backing device, the pmem mapping and the write-back policy are dynamic references: a
 * change of {@code backing.target} re-points the cache while clients go on (requests that need a
 * backing device wait, bounded); a change of {@code pmem.target} quiesces, closes and re-opens the
 * same cache device through the new provider (which replays the log); a change of
 * {@code writeback.target} takes effect at the next write-back step. CRC, key index and allocator
 * are static: changing them re-creates the cache.
 *
 * <p>The cache device is locked so two caches, in this process or another, never open it at once:
 * its lock file ({@code <cache_dev>.lock}, next to the file its path reaches), and the device's
 * file itself ({@link DeviceFileLock}), which also catches a hard link in another folder; a new
 * device's file is locked as soon as the open has made it.
 */
@Component(configurationPid = PcacheTargetComponent.PID, configurationPolicy = ConfigurationPolicy.REQUIRE,
        immediate = true, service = {})
@Designate(ocd = TargetConfig.class, factory = true)
public final class PcacheTargetComponent {

    /** The factory PID of caches. */
    public static final String PID = pcache.api.config.ConfigPids.TARGET;

    private static final System.Logger LOG = Log.of(PcacheTargetComponent.class);

    @Reference(name = "crc")
    private CrcProvider crc;
    @Reference(name = "allocator")
    private SegmentAllocatorProvider allocators;
    @Reference(name = "keyindex")
    private KeyIndexProvider keyIndexes;
    /** Creates the registered {@link CacheDeviceService} of the open cache. */
    @Reference(name = "services", target = "(" + ComponentConstants.COMPONENT_FACTORY + "="
            + CacheDeviceService.FACTORY + ")")
    private ComponentFactory<CacheDeviceService> services;
    /** Creates the registered {@link CacheOpenFailureService} of a failed open. */
    @Reference(name = "failures", target = "(" + ComponentConstants.COMPONENT_FACTORY + "="
            + CacheOpenFailureService.FACTORY + ")")
    private ComponentFactory<CacheOpenFailureService> failures;
    /**
     * Declarative Services' runtime, if there: whether every configured backing device the cache
     * selects failed to open ({@link BackingFailures#failedFor}), so that an open does not wait for
     * one in vain and status says why none is bound. Bound by {@link #bindRuntime}.
     */
    private volatile ServiceComponentRuntime runtime;
    /**
     * What the published failure of an open that wanted a backing device says of the devices the
     * cache selects: their failure ({@link BackingFailures#failedFor}), or null when it says the
     * cache waits for one. Control thread only.
     */
    private String publishedBackingFailure;
    private volatile PmemProvider pmem;
    private volatile WritebackPolicy policy;
    private volatile ScheduledExecutorService control;
    private String name;
    private BackingHolder backing;

    private volatile TargetConfig config;
    /** The configuration the open cache runs with (changes applied so far); touched only on {@link #control}. */
    private TargetConfig applied;
    /**
     * The newest configuration the open cache accepted, applied or not (a switch of mode in it may
     * have failed): the mode an owed try enters. Touched only on {@link #control}.
     */
    private TargetConfig accepted;
    /**
     * The configured mode last entered or found in force: a change of configuration switches the
     * mode only when it asks for another one (or one owed), so that a change of something else does
     * not undo a mode {@code pcache:mode} set. Touched only on {@link #control}.
     */
    private CacheMode modeApplied;
    /** The mapping the open engine runs on; touched only on {@link #control}. */
    private PmemProvider runningOn;
    /**
     * The configured mode the cache could not enter when it opened (its drain failed, say), and the
     * mode it stayed in; tried again on the next configuration change and when a backing device
     * binds, unless the mode was changed otherwise meanwhile. Touched only on {@link #control}.
     */
    private CacheMode owedMode;
    private CacheMode owedFrom;
    /**
     * The next try of an owed mode on a timer ({@link #owedMode}): a switch to pass-through that
     * gave up because writers kept data dirty may well succeed later without a configuration
     * change or a backing device's bind. Control thread only.
     */
    private ScheduledFuture<?> owedRetry;
    /** The first delay of the timed tries of an owed mode. */
    static final long OWED_RETRY_FIRST_MILLIS = 30_000;
    /** The longest delay between timed tries of an owed mode. */
    static final long OWED_RETRY_MAX_MILLIS = 600_000;
    /** How long until that try; doubles after each, up to {@link #OWED_RETRY_MAX_MILLIS}. Control thread only. */
    private long owedRetryDelayMillis;
    /** The first delay of {@link #owedRetry} ({@link #retryOwedModeAfter} for tests). */
    private volatile long owedRetryFirstMillis = OWED_RETRY_FIRST_MILLIS;
    /** Set once the open has ended, however it ended; guarded by {@code this}. */
    private boolean openEnded;
    /**
     * The engine an open made, until the open ends (its facade's start may drain it into the
     * configured mode); guarded by {@code this}. A deactivation ends its drains.
     */
    private CacheEngine opening;
    /**
     * Whether the last open failed for want of a backing device (a new cache device to format, a
     * dm-pcache image to pair with one): the next device bound opens the cache again. Control thread only.
     */
    private boolean openWantsBacking;
    private volatile CacheDeviceFacade facade;
    private volatile String failure;
    /** The instance whose service is registered; guarded by {@code this}. */
    private ComponentInstance<CacheDeviceService> service;
    /** The instance whose {@link CacheOpenFailure} says why the last open failed; guarded by {@code this}. */
    private ComponentInstance<CacheOpenFailureService> failureService;
    /** Set by deactivation: an open that completes afterwards must not create the service. */
    private boolean deactivated;
    private FileChannel lockChannel;
    /** The lock on the device's file itself ({@link DeviceFileLock}), or null; control thread and deactivation. */
    private volatile DeviceFileLock fileLock;
    /** Read by {@link #cacheDeviceProblem()} on the threads asking for the cache's conditions. */
    private volatile FileLock lock;
    private volatile Path lockFile;

    /**
     * Dynamic references can be bound before activation: the backing holder exists from the
     * start, named once the configuration is known.
     */
    public PcacheTargetComponent() {
        this.backing = new BackingHolder("(unconfigured)");
    }

    @Activate
    void activate(TargetConfig c, Map<String, Object> properties) throws CacheConfigurationException {
        TargetSettings.validate(c, properties);
        this.config = c;
        this.name = TargetSettings.name(c);
        this.backing.rename(name);
        this.backing.failedDevicesFrom(() -> failedBackingDevices(config));
        ScheduledThreadPoolExecutor c1 = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "pcache-" + name + "-control");
            t.setDaemon(true);
            return t;
        }) {
            /**
             * A task that threw: logged with its trace. This executor keeps a task's failure in
             * its future, where no one looks (a single-thread executor handed it to the thread's
             * uncaught-exception handler).
             */
            @Override
            protected void afterExecute(Runnable r, Throwable t) {
                super.afterExecute(r, t);
                Throwable failed = t;
                if (failed == null && r instanceof java.util.concurrent.Future<?> f && f.isDone() && !f.isCancelled()) {
                    try {
                        f.get();
                    } catch (java.util.concurrent.ExecutionException e) {
                        failed = e.getCause();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    } catch (java.util.concurrent.CancellationException e) {
                        // cancelled: nothing failed
                    }
                }
                if (failed != null) {
                    LOG.log(System.Logger.Level.ERROR, "cache " + name + ": a task of its control thread failed", failed);
                }
            }
        };
        c1.setExecuteExistingDelayedTasksAfterShutdownPolicy(false); // a timed retry never holds up a stop
        c1.setRemoveOnCancelPolicy(true);
        this.control = c1;
        control.execute(this::openInBackground);
    }

    /** Why no backing device the cache selects with {@code c} will be bound, or null ({@link BackingFailures#failedFor}). */
    private String failedBackingDevices(TargetConfig c) {
        return c == null ? null : BackingFailures.failedFor(runtime, c.backing_target());
    }

    // ---------------------------------------------------------------- references

    @Reference(name = "runtime", cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY, updated = "runtimeChanged")
    void bindRuntime(ServiceComponentRuntime r) {
        this.runtime = r;
        onControl(this::reviewBackingFailure);
    }

    void unbindRuntime(ServiceComponentRuntime r) {
        if (this.runtime == r) {
            this.runtime = null;
        }
    }

    /**
     * The runtime's components changed (its {@code service.changecount}, which Felix SCR updates a
     * few seconds after a change): a cache that failed for want of a backing device says again
     * whether the devices it selects failed or it waits for one.
     */
    void runtimeChanged(ServiceComponentRuntime r) {
        onControl(this::reviewBackingFailure);
    }

    /**
     * Publishes again the failure of a cache whose last open wanted a backing device when what it
     * says no longer holds: the devices it selects have failed since it said it waited for one, or
     * the failed ones were mended, removed or joined by one that may still open since it said they
     * failed. Control thread only; nothing while an open runs or the cache is open.
     */
    private void reviewBackingFailure() {
        boolean published;
        synchronized (this) {
            if (!openEnded || deactivated) {
                return;
            }
            published = failureService != null;
        }
        TargetConfig c = applied;
        // a configuration changed since the open is opened again next, with its own failure
        if (c == null || c != config || facade != null || !openWantsBacking) {
            return;
        }
        String failed = failedBackingDevices(c);
        if (published && java.util.Objects.equals(failed, publishedBackingFailure)) {
            return;
        }
        withdrawFailure();
        publishBackingFailure(c, failed);
        if (failed != null) {
            LOG.log(System.Logger.Level.WARNING, "cache {0}: {1}", name, BackingHolder.devicesFailed(name, failed));
        } else {
            LOG.log(System.Logger.Level.INFO, "cache {0}: waits for its backing device again (backing.target {1})",
                    name, c.backing_target());
        }
    }

    /**
     * Publishes the failure of an open that wanted a backing device: the devices the cache selects
     * failed ({@code failed}), or it waits for one. Control thread only.
     */
    private void publishBackingFailure(TargetConfig c, String failed) {
        publishedBackingFailure = failed;
        if (failed != null) { // failed, not waiting: its backing device opens only once mended (it opens it then)
            publishFailure(BackingHolder.devicesFailed(name, failed), false);
        } else {
            publishFailure("it waits for its backing device (backing.target " + c.backing_target()
                    + "): a blank cache device is formatted for its backing device and a dm-pcache image is paired"
                    + " with it, so neither opens without one", true);
        }
    }

    @Reference(name = "pmem", policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void bindPmem(PmemProvider provider) {
        this.pmem = provider;
        // activated: one bound while the cache opens is swapped to once it is open
        onControl(() -> swapPmem(provider));
    }

    void unbindPmem(PmemProvider provider) {
        // the replacement (if any) was bound first; without one the component is deactivated
    }

    @Reference(name = "backing", cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindBacking(BackingDevice device) {
        // checked by the holder against the open cache's identity (installed before its threads
        // start), so no device reaches the cache unchecked, even while it opens
        String refused = backing.set(device);
        if (refused != null) {
            LOG.log(System.Logger.Level.ERROR, "cache " + name + ": " + refused);
            return;
        }
        if (name != null) { // bound before activation, the cache's first log line names the device
            LOG.log(System.Logger.Level.INFO, "cache {0}: backing device {1}", name, device.description());
        }
        onControl(() -> {
            openAgainOnceBound();
            enterOwedMode();
        });
    }

    /**
     * Opens the cache again when its last open failed for want of a backing device. Before, it
     * stayed closed until a restart or a configuration change, with its export not served.
     */
    private void openAgainOnceBound() {
        if (facade == null && openWantsBacking) {
            openAgain("a backing device is bound");
        }
    }

    /**
     * Opens the cache again after an open that failed, unless one is running or the component is
     * deactivated. Control thread only.
     */
    private void openAgain(String why) {
        boolean reopen;
        synchronized (this) {
            reopen = openEnded && !deactivated;
            if (reopen) {
                openEnded = false;
            }
        }
        if (reopen) {
            LOG.log(System.Logger.Level.INFO, "cache {0}: {1}: opening again", name, why);
            openInBackground();
        }
    }

    void unbindBacking(BackingDevice device) {
        if (backing.peek() == device) {
            LOG.log(System.Logger.Level.INFO, "cache {0}: backing device {1} went away", name, device.description());
        }
        // called before the device's provider closes it: what clients wrote to it is flushed first
        CacheDeviceFacade f = facade;
        if (f != null) {
            f.backingGoes(device);
        } else {
            backing.remove(device);
        }
    }

    @Reference(name = "writeback", cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindWriteback(WritebackPolicy p) {
        LOG.log(System.Logger.Level.INFO, "cache {0}: write-back policy {1}", name, p.name());
        this.policy = p;
    }

    void unbindWriteback(WritebackPolicy p) {
        if (this.policy == p) {
            this.policy = null;
        }
    }

    // ---------------------------------------------------------------- life cycle

    private EngineConfig engineConfig(TargetConfig c) {
        return TargetSettings.engineConfig(c);
    }

    private CacheEngine openEngine(PmemProvider provider, TargetConfig c) throws IOException {
        Path dev = Path.of(c.cache__dev());
        EngineConfig settings = engineConfig(c); // before the mapping, which nothing would close if this threw
        EngineConfig.checkGcPercent(settings.gcPercent());
        PmemRegion region = provider.open(dev, c.cache__dev__size__bytes());
        return CacheEngine.open(settings, region, crc, allocators, keyIndexes, backing, () -> policy);
    }

    private void openInBackground() {
        synchronized (this) {
            if (deactivated) { // queued before the deactivation: it must not take the lock now
                openEnded = true;
                return;
            }
        }
        withdrawFailure(); // opening again: no longer failed
        TargetConfig c = config;
        applied = c;
        accepted = c;
        modeApplied = TargetSettings.mode(c);
        openWantsBacking = false;
        CacheDeviceFacade opened = null;
        boolean published = false;
        try {
            boolean fileLockOwed = lockCacheDevice(Path.of(c.cache__dev()));
            PmemProvider provider = pmem;
            CacheEngine engine = openEngine(provider, c);
            if (fileLockOwed) { // a new device: its file exists now
                try {
                    lockDeviceFile(Path.of(c.cache__dev()));
                } catch (Throwable e) {
                    engine.abandon(); // nothing of a client's in it yet; an Error too, or its threads run on
                    throw e;
                }
            }
            synchronized (this) {
                opening = engine;
                if (deactivated) {
                    engine.cancelDrains(); // the facade's start would drain it into pass-through
                }
            }
            runningOn = provider;
            CacheDeviceFacade f = new CacheDeviceFacade(engine, backing, TargetSettings.mode(c),
                    this::cacheDeviceProblem);
            noteMode(f, TargetSettings.mode(c));
            opened = f;
            facade = f;
            synchronized (this) {
                if (deactivated) {
                    // deactivated while opening: what was opened is closed here, and the cache
                    // device's lock released only now (a deactivation that gave up waiting left both)
                    openEnded = true;
                    facade = null;
                    opened = null;
                    f.close();
                    LOG.log(System.Logger.Level.INFO, "cache {0} closed: stopped while it opened", name);
                    releaseLock();
                    return;
                }
                Hashtable<String, Object> properties = serviceProperties(c);
                properties.put(CacheDeviceService.FACADE, f);
                service = services.newInstance(properties);
                opened = null; // published: from here the deactivation closes it
                published = true;
            }
            failure = null;
            LOG.log(System.Logger.Level.INFO, "cache {0} open: {1}", name, f.status().dmStatusLine());
        } catch (Throwable e) { // an Error too: the lock is released and the failure shown all the same
            if (published) { // open and registered: only what came after (the log line) failed
                LOG.log(System.Logger.Level.ERROR, "cache " + name + ": after it opened: " + e);
                if (e instanceof Error error) {
                    throw error;
                }
                return;
            }
            failure = reasonOf(e);
            boolean shutDown = false;
            BackingHolder.DevicesFailed devicesFailed = null;
            for (Throwable t = e; t != null; t = t.getCause()) {
                openWantsBacking |= t instanceof BackingHolder.NoneBound;
                if (t instanceof BackingHolder.DevicesFailed d) {
                    devicesFailed = d;
                }
                shutDown |= t instanceof pcache.api.DeviceClosedException;
            }
            boolean stopped;
            synchronized (this) {
                stopped = deactivated && shutDown;
            }
            if (stopped) { // the stop ended the open (its wait for a backing device): nothing failed
                LOG.log(System.Logger.Level.INFO, "cache {0}: stopped before it opened ({1})", name, e.getMessage());
            } else {
                LOG.log(System.Logger.Level.ERROR, "cache " + name + " cannot be opened: " + e);
            }
            if (opened != null) { // opened, but not published: close it before the lock goes
                facade = null;
                try {
                    opened.close();
                } catch (IOException | RuntimeException x) {
                    LOG.log(System.Logger.Level.ERROR, "cache " + name + ": closing failed: " + x.getMessage());
                }
            }
            releaseLock();
            if (openWantsBacking) {
                publishBackingFailure(c, devicesFailed == null ? null : devicesFailed.failed());
            } else {
                publishFailure(failure, false);
            }
            if (e instanceof Error error) {
                throw error;
            }
        } finally {
            synchronized (this) {
                openEnded = true;
                opening = null;
            }
        }
    }

    /** What an open's failure {@code e} says: its message, with its type where the message is only a path. */
    static String reasonOf(Throwable e) {
        String message = e.getMessage();
        if (message == null) {
            return e.toString();
        }
        if (e instanceof java.nio.file.FileSystemException) { // NoSuchFileException's message is the file alone
            return e.getClass().getSimpleName() + ": " + message;
        }
        return message;
    }

    /**
     * Registers the {@link CacheOpenFailure} of this cache (after its lock is released), unless the
     * component is deactivated. Control thread only.
     */
    private void publishFailure(String reason, boolean waitsForBacking) {
        Hashtable<String, Object> p = new Hashtable<>();
        p.put(CacheOpenFailure.NAME, name);
        p.put(CacheOpenFailure.REASON, reason);
        p.put(CacheOpenFailure.WAITS_FOR_BACKING, waitsForBacking);
        synchronized (this) {
            if (deactivated || failureService != null) {
                return;
            }
            try {
                failureService = failures.newInstance(p);
            } catch (RuntimeException e) { // the failure is logged all the same
                LOG.log(System.Logger.Level.WARNING, "cache {0}: the reason it did not open is not published: {1}",
                        name, e.toString());
            }
        }
    }

    /** Withdraws the {@link CacheOpenFailure} of this cache, if it has one. */
    private void withdrawFailure() {
        ComponentInstance<CacheOpenFailureService> published;
        synchronized (this) {
            published = failureService;
            failureService = null;
        }
        if (published != null) {
            try {
                published.dispose();
            } catch (IllegalStateException e) {
                // already gone with the bundle
            }
        }
    }

    /**
     * Queues {@code task} on the control thread once the component is active; nothing when it is
     * not, or no longer (a bind delivered after the deactivation began must not throw).
     */
    private void onControl(Runnable task) {
        ExecutorService c = control;
        if (c == null || c.isShutdown()) {
            return;
        }
        try {
            c.execute(task);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            LOG.log(System.Logger.Level.DEBUG, "cache {0}: deactivating, a bind is not acted on", name);
        }
    }

    /**
     * Remembers the configured mode as owed when the cache is not in it ({@link #owedMode}), and
     * tries it again on a timer until it is entered or no longer owed.
     */
    private void noteMode(CacheDeviceFacade f, CacheMode wanted) {
        if (f.mode() != wanted) {
            owedMode = wanted;
            owedFrom = f.mode();
            scheduleOwedRetry();
        } else {
            owedMode = null;
            cancelOwedRetry();
        }
    }

    /** Schedules the next timed try of the owed mode, unless one is scheduled. */
    private void scheduleOwedRetry() {
        if (owedRetry != null && !owedRetry.isDone()) {
            return;
        }
        ScheduledExecutorService c = control;
        long delay = nextOwedRetryMillis();
        try {
            owedRetry = c.schedule(() -> {
                owedRetry = null;
                synchronized (this) {
                    if (deactivated) {
                        return; // a stop under way: not tried, and not reported as failing
                    }
                }
                enterOwedMode(true);
            }, delay, TimeUnit.MILLISECONDS);
            owedRetryDelayMillis = Math.min(OWED_RETRY_MAX_MILLIS, delay * 2);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            LOG.log(System.Logger.Level.DEBUG, "cache {0}: deactivating, the owed mode is not tried again", name);
        }
    }

    /** The delay of the next timed try of an owed mode: the first after the mode was last entered, or twice the last. */
    private long nextOwedRetryMillis() {
        return owedRetryDelayMillis == 0 ? owedRetryFirstMillis : owedRetryDelayMillis;
    }

    private void cancelOwedRetry() {
        if (owedRetry != null) {
            owedRetry.cancel(false);
            owedRetry = null;
        }
        owedRetryDelayMillis = 0;
    }

    /** Sets the first delay of the timed tries of an owed mode (tests). */
    void retryOwedModeAfter(long millis) {
        owedRetryFirstMillis = millis;
    }

    /** Whether the configured mode {@code wanted} is owed and the mode was not changed otherwise since. */
    private boolean owes(CacheDeviceFacade f, CacheMode wanted) {
        return owedMode == wanted && f.mode() == owedFrom;
    }

    /** Tries again to enter a configured mode the cache could not enter (a backing device bound). */
    private void enterOwedMode() {
        enterOwedMode(false);
    }

    /**
     * Tries again to enter a configured mode the cache could not enter; {@code timed}: a try on the
     * timer, which holds clients briefly ({@link CacheDeviceFacade#trySetMode}), as it may fail
     * again and again.
     */
    private void enterOwedMode(boolean timed) {
        CacheDeviceFacade f = facade;
        TargetConfig c = accepted;
        if (f == null || c == null || owedMode == null) {
            return;
        }
        CacheMode wanted = TargetSettings.mode(c);
        if (!owes(f, wanted)) {
            owedMode = null;
            cancelOwedRetry();
            return;
        }
        try {
            if (timed) {
                f.trySetMode(wanted);
            } else {
                f.setMode(wanted);
            }
            modeApplied = wanted;
            LOG.log(System.Logger.Level.INFO, "cache {0}: entered mode {1}, as configured", name, wanted.configName());
        } catch (IOException | RuntimeException e) {
            boolean stopping;
            synchronized (this) {
                stopping = deactivated;
            }
            if (stopping) { // a stop ended the try (its drain): not a failure to report
                LOG.log(System.Logger.Level.DEBUG, "cache {0}: the try of mode {1} ended by the stop: {2}", name,
                        wanted.configName(), e.getMessage());
                return;
            }
            LOG.log(System.Logger.Level.ERROR, "cache " + name + ": still cannot enter mode " + wanted.configName()
                    + " (" + e.getMessage() + "); staying in " + f.mode().configName() + ", trying again within "
                    + nextOwedRetryMillis() / 1000 + " s, or with the next configuration change or backing device");
        } finally {
            noteMode(f, wanted);
        }
    }

    /** The public properties of the {@link CacheDevice} service. */
    private Hashtable<String, Object> serviceProperties(TargetConfig c) {
        Hashtable<String, Object> p = new Hashtable<>();
        p.put(CacheDevice.NAME, name);
        p.put("pcache.cache.dev", c.cache__dev());
        return p;
    }

    /**
     * Locks the cache device: its lock file, and its file itself when it exists.
     *
     * @return whether the device did not exist yet, so that its file is to be locked once the open has made it
     */
    private boolean lockCacheDevice(Path dev) throws IOException {
        // next to the file the path reaches: every link to one device takes the same lock
        Path real = pcache.api.config.DevicePaths.identity(dev);
        Path lockFile = real.resolveSibling(real.getFileName() + ".lock");
        Path written = dev.toAbsolutePath().normalize();
        if (!real.equals(written) && !java.nio.file.Files.isWritable(lockFile.getParent())) {
            // a link to a device in a folder that takes no file (/dev): lock by the path as written,
            // where the lock was before links were resolved
            Path byPath = written.resolveSibling(written.getFileName() + ".lock");
            LOG.log(System.Logger.Level.WARNING, "cache {0}: {1} is not writable, so the lock of cache device {2} is"
                    + " {3}: a cache reaching the device by another path is not refused", name, lockFile.getParent(),
                    dev, byPath);
            lockFile = byPath;
        }
        FileChannel ch;
        try {
            ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new CacheConfigurationException("cannot create the lock file " + lockFile + " of cache device " + dev
                    + " (" + reasonOf(e) + "): its folder must exist and be writable for the user running pcache");
        }
        try {
            FileLock l = ch.tryLock();
            if (l == null) {
                throw new CacheConfigurationException("cache device " + dev + " is in use by another process"
                        + " (lock " + lockFile + "); stop the other pcache first");
            }
            lockChannel = ch;
            lock = l;
            this.lockFile = lockFile;
            boolean owed = !Files.exists(dev);
            if (!owed) {
                try {
                    lockDeviceFile(dev);
                } catch (Throwable e) {
                    releaseLock();
                    throw e;
                }
            }
            return owed;
        } catch (OverlappingFileLockException e) {
            ch.close();
            throw new CacheConfigurationException("cache device " + dev + " is already used by another cache in"
                    + " this process; each cache needs its own cache_dev");
        } catch (IOException e) {
            ch.close();
            throw e;
        }
    }

    /**
     * Why the open cache's device is not held safely, or null when it is: the lock must still be
     * held and its file still there (else another process could lock and open the same device),
     * and the device must still exist and be writable (else the next start could not open it).
     */
    String cacheDeviceProblem() {
        return cacheDeviceProblem(name, Path.of(config.cache__dev()), lock, lockFile);
    }

    /** {@link #cacheDeviceProblem()} of cache {@code name} on {@code dev}, locked by {@code l} on {@code lf}. */
    static String cacheDeviceProblem(String name, Path dev, FileLock l, Path lf) {
        if (l == null || lf == null || !l.isValid()) {
            return "the lock on cache device " + dev + " is no longer held; another process may open it too."
                    + " Stop pcache and check which process uses " + dev;
        }
        if (!Files.exists(lf)) {
            return "the lock file " + lf + " of cache device " + dev + " was removed, so another process could"
                    + " lock and open the device too. Restart pcache to lock it again";
        }
        if (!Files.exists(dev)) {
            return "cache device " + dev + " no longer exists (removed while open): its data lives on only until"
                    + " the cache closes. Drain the cache (pcache:drain " + name + ") before stopping pcache";
        }
        if (!Files.isWritable(dev)) {
            return "cache device " + dev + " is no longer writable (permissions or a read-only mount), so the"
                    + " next start cannot open it. Make it writable again for the user running pcache";
        }
        return null;
    }

    /**
     * Locks the device's file itself ({@link DeviceFileLock}): a cache reaching the same device by
     * another name (a hard link elsewhere, a bind mount), which the lock file cannot see, is refused.
     */
    private void lockDeviceFile(Path dev) throws CacheConfigurationException {
        DeviceFileLock.Outcome outcome;
        try {
            outcome = DeviceFileLock.tryLock(dev);
        } catch (LinkageError e) { // DeviceFileLock catches JNA's absence itself; this is the last guard
            outcome = new DeviceFileLock.Unsupported(e.toString());
        }
        if (outcome instanceof DeviceFileLock.Locked locked) {
            fileLock = locked.lock();
        } else if (outcome instanceof DeviceFileLock.HeldElsewhere) {
            throw new CacheConfigurationException("cache device " + dev + " is in use by another cache, reached"
                    + " through another name (a hard link or a bind mount of the same file), in this process or"
                    + " another; stop that cache first, or give this one a cache device of its own");
        } else if (outcome instanceof DeviceFileLock.Busy busy) {
            throw new CacheConfigurationException("cache device " + dev + " " + busy.why()
                    + ", or give this cache a device of its own");
        } else if (outcome instanceof DeviceFileLock.Unsupported unsupported) {
            LOG.log(System.Logger.Level.INFO, "cache {0}: cache device {1} locked by its lock file only ({2}): a"
                    + " cache reaching it through a hard link in another folder is not refused", name, dev,
                    unsupported.why());
        }
    }

    private void releaseLock() {
        DeviceFileLock held = fileLock;
        fileLock = null;
        if (held != null) {
            held.close();
        }
        try {
            if (lock != null) {
                lock.release();
            }
            if (lockChannel != null) {
                lockChannel.close();
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "releasing the cache device lock: {0}", e.getMessage());
        }
        lock = null;
        lockChannel = null;
    }

    /**
     * Re-opens the cache through {@code provider}; if that fails, through {@code previous}, the
     * mapping the cache had, so a mapping that cannot open the device costs clients a pause, not
     * the cache.
     */
    private void swapPmem(PmemProvider provider) {
        CacheDeviceFacade f = facade;
        PmemProvider previous = runningOn;
        if (f == null || provider == previous || provider != pmem) {
            return; // not open (the next open takes it), already on it, or a newer one was bound since
        }
        // the configuration the engine runs, not one a queued change may still refuse (a new cache_dev)
        TargetConfig c = applied;
        try {
            LOG.log(System.Logger.Level.INFO, "cache {0}: switching pmem mapping from {1} to {2}", name,
                    previous.type(), provider.type());
            f.replaceEngine(() -> openEngine(provider, c), () -> openEngine(previous, c));
            runningOn = provider;
            LOG.log(System.Logger.Level.INFO, "cache {0}: now on {1}", name, f.status().cacheDevice());
        } catch (Throwable e) {
            // the engine in service, if any, is the previous mapping's: later re-opens use it
            LOG.log(System.Logger.Level.ERROR, "cache " + name + ": pmem mapping " + provider.type() + " cannot open "
                    + c.cache__dev() + " (" + e.getMessage() + "); " + (f.isInService() ? "the cache stays on "
                    + previous.type() : "re-opening through " + previous.type() + " failed too, the cache is out of"
                    + " service") + ". Point pmem.target at a mapping that can open the device.");
            if (e instanceof Error error) {
                throw error;
            }
        }
    }

    @Modified
    void modified(TargetConfig newConfig, Map<String, Object> properties) {
        TargetConfig old = config;
        // checked before it is kept: an open that a bound backing device starts meanwhile reads
        // the configuration kept
        try {
            TargetSettings.validate(newConfig, properties);
        } catch (CacheConfigurationException | RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "cache " + name + ": configuration change refused: " + e.getMessage());
            return;
        }
        if (!TargetSettings.name(newConfig).equals(name)) {
            // the service, the log lines and the backing device's holder keep the name of activation
            LOG.log(System.Logger.Level.ERROR, "cache " + name + ": configuration change refused: "
                    + TargetSettings.runtimeChangeProblem(old, newConfig));
            return;
        }
        config = newConfig;
        // decided on the control executor, which runs one task at a time after the open: a change
        // that arrives while the cache opens sees how the open ended
        control.execute(() -> {
            CacheDeviceFacade f = facade;
            if (f == null) {
                // the cache did not open (a wrong cache_dev, say): open it again with the change
                openAgain("the configuration changed");
                return;
            }
            TargetConfig from = applied;
            String problem = TargetSettings.runtimeChangeProblem(from, newConfig);
            if (problem != null) {
                LOG.log(System.Logger.Level.ERROR, "cache " + name + ": configuration change refused: " + problem);
                config = from;
                return;
            }
            accepted = newConfig;
            if (applyChanges(f, from, newConfig)) {
                applied = newConfig; // a change that failed is tried again with the next one
            }
        });
    }

    /** Applies the change from {@code old} to {@code c}; false when some of it failed (logged). */
    private boolean applyChanges(CacheDeviceFacade f, TargetConfig old, TargetConfig c) {
        try {
            if (old.gc__percent() != c.gc__percent()) {
                f.setGcPercent(c.gc__percent());
            }
            f.setBackingTimeoutMillis(c.backing__timeout__ms());
            if (TargetSettings.needsReopen(old, c)) {
                LOG.log(System.Logger.Level.INFO, "cache {0}: re-opening for the new configuration", name);
                PmemProvider on = runningOn;
                f.replaceEngine(() -> openEngine(on, c), () -> openEngine(on, old));
                applied = c; // the engine runs it now, whatever fails after
            }
            // only a change of the configured mode: a configuration update that changed something
            // else (pcache:gc-percent's), delivered after pcache:mode set the mode directly and
            // before that command's own update, would otherwise put the old mode back
            CacheMode wanted = TargetSettings.mode(c);
            if ((modeApplied != wanted || owes(f, wanted)) && f.mode() != wanted) {
                try {
                    f.setMode(wanted);
                } finally {
                    noteMode(f, wanted);
                }
            }
            modeApplied = wanted;
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "cache " + name + ": applying the configuration change failed: "
                    + e.getMessage());
            return false;
        }
        return true;
    }

    @Deactivate
    void deactivate() {
        ComponentInstance<CacheDeviceService> instance;
        CacheEngine beingOpened;
        synchronized (this) {
            instance = service;
            service = null;
            deactivated = true;
            beingOpened = opening;
        }
        withdrawFailure();
        // drains end first: a switch to pass-through (a configuration change, or the configured
        // mode entered at the open) drains on the control thread, which is waited for below, for
        // as long as write-back takes; before, a stop waited 60 s and the launcher's watchdog halted
        CacheDeviceFacade running = facade;
        if (running != null) {
            running.endDrains();
        }
        if (beingOpened != null) {
            beingOpened.cancelDrains();
        }
        // an open waiting for its backing device, now or once it gets there, gives up at once; before,
        // a stop waited for backing_timeout_ms (30 s by default) with nothing to close
        backing.stopOpens();
        if (instance != null) {
            try {
                instance.dispose();
            } catch (IllegalStateException e) {
                // already gone with the bundle
            }
        }
        if (control == null) {
            return;
        }
        control.shutdown();
        boolean ended;
        try {
            ended = control.awaitTermination(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            ended = false;
        }
        if (!ended) {
            boolean stillOpening;
            synchronized (this) {
                stillOpening = !openEnded;
            }
            if (stillOpening) {
                // the open sees the deactivation when it ends, closes what it opened and releases
                // the cache device's lock then: released now, another instance could open the device
                LOG.log(System.Logger.Level.WARNING, "cache {0}: still opening after 60 s at shutdown; it closes"
                        + " itself and releases its cache device when the open ends", name);
                backing.close();
                return;
            }
            LOG.log(System.Logger.Level.WARNING, "cache {0}: control work still running at shutdown", name);
        }
        CacheDeviceFacade f = facade;
        facade = null;
        if (f != null) {
            try {
                f.close();
                LOG.log(System.Logger.Level.INFO, "cache {0} closed", name);
            } catch (IOException e) {
                LOG.log(System.Logger.Level.ERROR, "cache " + name + ": closing failed: " + e.getMessage());
            }
        }
        backing.close();
        releaseLock();
    }

    /** Why the cache is not open, or null. */
    String failure() {
        return failure;
    }
}
