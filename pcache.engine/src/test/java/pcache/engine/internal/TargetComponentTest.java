package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.HashMap;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.osgi.service.component.ComponentFactory;
import org.osgi.service.component.ComponentInstance;
import org.osgi.service.component.runtime.ServiceComponentRuntime;
import org.osgi.service.component.runtime.dto.ComponentConfigurationDTO;
import org.osgi.service.component.runtime.dto.ComponentDescriptionDTO;

import pcache.api.CacheConfigurationException;
import pcache.api.CacheMode;
import pcache.api.CacheOpenFailure;
import pcache.api.config.CacheDefinition;
import pcache.api.config.TargetProperties;
import pcache.api.spi.PmemProvider;
import pcache.api.spi.PmemRegion;
import pcache.keyindex.internal.StripedKeyIndexProvider;
import pcache.pmem.internal.HeapPmemProvider;
import pcache.segment.internal.FifoSegmentAllocatorProvider;
import pcache.writeback.internal.OrderedWritebackPolicy;

/**
 * The cache's component outside a framework: its references set as Declarative Services would,
 * its configuration changed and its parts bound while it runs, in the orders a framework may
 * deliver them.
 */
class TargetComponentTest {

    private static final long DEVICE_BYTES = pcache.api.format.PcacheFormat.CACHE_DEV_SIZE_MIN;

    @TempDir
    Path dir;

    /** A heap mapping that counts its opens and can hold them back. */
    private static final class Mapping implements PmemProvider {
        final HeapPmemProvider heap;
        final String type;
        final AtomicInteger opens = new AtomicInteger();
        volatile CountDownLatch holdOpens;
        final CountDownLatch openHeld = new CountDownLatch(1);

        Mapping(HeapPmemProvider heap, String type) {
            this.heap = heap;
            this.type = type;
        }

        @Override
        public String type() {
            return type;
        }

        @Override
        public PmemRegion open(Path path, long createSizeBytes) throws IOException {
            opens.incrementAndGet();
            CountDownLatch hold = holdOpens;
            if (hold != null) {
                openHeld.countDown();
                try {
                    hold.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    throw new java.io.InterruptedIOException();
                }
            }
            return heap.open(path, createSizeBytes);
        }
    }

    private TargetConfig config(Map<String, Object> values) {
        Map<String, Object> all = new HashMap<>(Map.of("name", "c", "cache__dev", dir.resolve("c.cache").toString(),
                "cache__dev__size__bytes", DEVICE_BYTES, "backing__timeout__ms", 300L));
        all.putAll(values);
        return (TargetConfig) Proxy.newProxyInstance(TargetConfig.class.getClassLoader(),
                new Class<?>[] {TargetConfig.class}, (proxy, method, args) -> {
                    Object v = all.get(method.getName());
                    return v != null ? v : method.getDefaultValue();
                });
    }

    /** Every failure published, as {@link #publishedFailure} gives it, in order. */
    private final List<String> publishedHistory = new CopyOnWriteArrayList<>();

    /** The service properties of every {@link CacheOpenFailureService} instance not yet disposed. */
    private final List<Dictionary<String, ?>> publishedFailures = new CopyOnWriteArrayList<>();

    /** The reason published for the cache {@code name}, or null when none is published. */
    private String publishedFailure(String name) {
        List<String> reasons = new ArrayList<>();
        for (Dictionary<String, ?> p : publishedFailures) {
            if (name.equals(p.get(CacheOpenFailure.NAME))) {
                reasons.add(p.get(CacheOpenFailure.REASON) + (Boolean.TRUE.equals(p.get(
                        CacheOpenFailure.WAITS_FOR_BACKING)) ? " (waits for backing)" : ""));
            }
        }
        assertTrue(reasons.size() <= 1, "one failure published at most: " + reasons);
        return reasons.isEmpty() ? null : reasons.get(0);
    }

    /** A component with its static references set, {@code pmem} bound, not yet activated. */
    private PcacheTargetComponent component(PmemProvider pmem) throws Exception {
        PcacheTargetComponent c = new PcacheTargetComponent();
        set(c, "crc", Harness.CRC);
        set(c, "allocators", new FifoSegmentAllocatorProvider());
        set(c, "keyIndexes", new StripedKeyIndexProvider());
        ComponentFactory<CacheDeviceService> services = new ComponentFactory<>() {
            @Override
            public ComponentInstance<CacheDeviceService> newInstance(Dictionary<String, ?> properties) {
                return new ComponentInstance<>() {
                    @Override
                    public void dispose() {
                    }

                    @Override
                    public CacheDeviceService getInstance() {
                        return null;
                    }
                };
            }
        };
        set(c, "services", services);
        ComponentFactory<CacheOpenFailureService> failures = new ComponentFactory<>() {
            @Override
            public ComponentInstance<CacheOpenFailureService> newInstance(Dictionary<String, ?> properties) {
                Hashtable<String, Object> copy = new Hashtable<>();
                properties.keys().asIterator().forEachRemaining(k -> copy.put(k, properties.get(k)));
                CacheOpenFailureService instance = new CacheOpenFailureService(new HashMap<>(copy));
                publishedFailures.add(copy);
                publishedHistory.add(copy.get(CacheOpenFailure.REASON) + (Boolean.TRUE.equals(copy.get(
                        CacheOpenFailure.WAITS_FOR_BACKING)) ? " (waits for backing)" : ""));
                return new ComponentInstance<>() {
                    @Override
                    public void dispose() {
                        assertTrue(publishedFailures.remove(copy), "disposed once");
                    }

                    @Override
                    public CacheOpenFailureService getInstance() {
                        return instance;
                    }
                };
            }
        };
        set(c, "failures", failures);
        c.bindPmem(pmem);
        c.bindWriteback(new OrderedWritebackPolicy());
        return c;
    }

    /** The component's log records of level INFO and above, as "LEVEL message", while it is open. */
    private static final class ComponentLog implements AutoCloseable {
        final List<String> records = new CopyOnWriteArrayList<>();
        private final java.util.logging.Logger log =
                java.util.logging.Logger.getLogger(PcacheTargetComponent.class.getName());
        private final java.util.logging.Level level = log.getLevel();
        private final java.util.logging.Handler handler = new java.util.logging.Handler() {
            @Override
            public void publish(java.util.logging.LogRecord r) {
                records.add(r.getLevel() + " " + new java.util.logging.SimpleFormatter().formatMessage(r));
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };

        ComponentLog() {
            log.setLevel(java.util.logging.Level.INFO); // the tests' logging configuration prints warnings only
            log.addHandler(handler);
        }

        @Override
        public void close() {
            log.removeHandler(handler);
            log.setLevel(level);
        }
    }

    private static void set(Object target, String field, Object value) throws Exception {
        Field f = PcacheTargetComponent.class.getDeclaredField(field);
        f.setAccessible(true);
        f.set(target, value);
    }

    private static Object get(PcacheTargetComponent c, String field) throws Exception {
        Field f = PcacheTargetComponent.class.getDeclaredField(field);
        f.setAccessible(true);
        return f.get(c);
    }

    private static CacheDeviceFacade facade(PcacheTargetComponent c) throws Exception {
        return (CacheDeviceFacade) get(c, "facade");
    }

    /** Runs {@code task} on the component's control thread after everything queued before it. */
    private static void onControl(PcacheTargetComponent c, Runnable task) throws Exception {
        ((ExecutorService) get(c, "control")).submit(task).get(60, TimeUnit.SECONDS);
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within 30 s: " + what);
            }
            Thread.sleep(5);
        }
    }

    /** A new cache with {@code values} (its cache device released by another) opens; it is deactivated again. */
    private void opensAgain(Map<String, Object> values) throws Exception {
        PcacheTargetComponent after = component(new Mapping(new HeapPmemProvider(), "heap"));
        after.bindBacking(new MemoryBacking(64 * Harness.MIB, "other", false));
        after.activate(config(values), Map.of());
        try {
            opened(after);
        } finally {
            after.deactivate();
        }
    }

    /** Waits (bounded) until a deactivation of {@code c} on another thread has begun. */
    private static void awaitDeactivationBegun(PcacheTargetComponent c) throws InterruptedException {
        await("the deactivation began", () -> {
            try {
                synchronized (c) { // the component's own guard of the field
                    return (Boolean) get(c, "deactivated");
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    /** Waits (bounded) until {@code c} has opened its cache. */
    private static void awaitOpen(PcacheTargetComponent c, String what) throws InterruptedException {
        await(what, () -> {
            try {
                return facade(c) != null;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    private static CacheDeviceFacade opened(PcacheTargetComponent c) throws Exception {
        onControl(c, () -> { });
        CacheDeviceFacade f = facade(c);
        assertNotNull(f, "opened: " + c.failure());
        return f;
    }

    /**
     * Configuration Admin may hold every value as a string (Karaf's {@code etc/*.cfg}): one the
     * configuration type cannot read as what it says is refused, naming the key. Before, SCR read
     * {@code data_crc = yes} as false (a cache formatted without data CRCs, for good) and failed on
     * {@code 4G} with a NumberFormatException that named no key.
     */
    @Test
    void aStringValueThatIsNotWhatItsKeyTakesIsRefusedNamingTheKey() throws Exception {
        PcacheTargetComponent c = component(new Mapping(new HeapPmemProvider(), "heap"));
        CacheConfigurationException e = assertThrows(CacheConfigurationException.class,
                () -> c.activate(config(Map.of()), Map.of("data_crc", "yes", "cache_dev_size_bytes", "4G",
                        "streams", "2", "force_identity", "TRUE")));
        assertTrue(e.getMessage().startsWith("cache c: ")
                && e.getMessage().contains("data_crc = 'yes': not true or false")
                && e.getMessage().contains("cache_dev_size_bytes = '4G': not a whole number")
                && !e.getMessage().contains("streams") && !e.getMessage().contains("force_identity"), e.getMessage());
    }

    /**
     * A configuration change that fails its check is not kept: an open that a backing device
     * starts later uses the configuration before it. Before, the change was kept first and put
     * back only for a CacheConfigurationException; an accessor failing (SCR's conversion of a
     * value it cannot read) left it in place, and the open failed on it.
     */
    @Test
    @Timeout(120)
    void aChangeThatFailsItsCheckIsNotKeptForALaterOpen() throws Exception {
        MemoryBacking disk = new MemoryBacking(64 * Harness.MIB, "disk", false);
        PcacheTargetComponent c = component(new Mapping(new HeapPmemProvider(), "heap"));
        c.activate(config(Map.of()), Map.of()); // a blank cache device waits for its backing device
        try {
            onControl(c, () -> { });
            assertNull(facade(c), "not open without a backing device");
            // the proxy's accessor fails as SCR's does for a value it cannot convert
            c.modified(config(Map.of("gc__percent", "50%")), Map.of());
            c.modified(config(Map.of("gc__percent", 50)), Map.of("gc_percent", "50%"));
            c.bindBacking(disk);
            CacheDeviceFacade f = opened(c);
            assertEquals(CacheMode.WRITEBACK, f.mode());
        } finally {
            c.deactivate();
        }
    }

    /**
     * A cache configured for pass-through that cannot enter it at start (dirty data, no backing
     * device to write it back to) stays in write-back, and enters pass-through once a backing
     * device binds, or with a later configuration change. Before, the switch was tried only at
     * start and when the configured mode changed, so the cache stayed in write-back for good.
     */
    @Test
    @Timeout(120)
    void aConfiguredModeTheCacheCouldNotEnterAtStartIsEnteredOnceItCan() throws Exception {
        HeapPmemProvider heap = new HeapPmemProvider();
        MemoryBacking disk = new MemoryBacking(64 * Harness.MIB, "disk", false);
        PcacheTargetComponent first = component(new Mapping(heap, "heap"));
        first.bindWriteback(Harness.onlyWhenDraining(new OrderedWritebackPolicy())); // what it writes stays dirty
        first.bindBacking(disk);
        first.activate(config(Map.of()), Map.of());
        try {
            opened(first).write(0, Harness.pattern(0, 4096, 1), true); // dirty, left in the cache
        } finally {
            first.deactivate();
        }

        PcacheTargetComponent c = component(new Mapping(heap, "heap"));
        c.activate(config(Map.of("cache__mode", "passthrough")), Map.of());
        try {
            CacheDeviceFacade f = opened(c);
            assertEquals(CacheMode.WRITEBACK, f.mode(), "no backing device to write the dirty data back to");
            c.modified(config(Map.of("cache__mode", "passthrough", "gc__percent", 60)), Map.of());
            onControl(c, () -> { });
            assertEquals(CacheMode.WRITEBACK, f.mode(), "still none");
            c.bindBacking(disk);
            await("pass-through entered once a backing device is bound", () -> f.mode() == CacheMode.PASSTHROUGH);
            assertEquals(0, f.statistics().dirtyBytes());
            assertTrue(java.util.Arrays.equals(Harness.pattern(0, 4096, 1).array(), disk.content(0, 4096)));
        } finally {
            c.deactivate();
        }
    }

    /**
     * A configured switch to pass-through that fails (write-back cannot write: here the backing
     * device refuses writes) is tried again on a timer, and entered once write-back can write,
     * with no configuration change or bind to start it. Before, it was tried again only then, and
     * the configuration said pass-through while the cache wrote back for good.
     */
    @Test
    @Timeout(120)
    void aConfiguredSwitchToPassThroughThatFailedIsTriedAgainOnItsOwn() throws Exception {
        HeapPmemProvider heap = new HeapPmemProvider();
        MemoryBacking disk = new MemoryBacking(64 * Harness.MIB, "disk", false);
        PcacheTargetComponent c = component(new Mapping(heap, "heap"));
        c.retryOwedModeAfter(200);
        c.bindWriteback(Harness.onlyWhenDraining(new OrderedWritebackPolicy())); // what it writes stays dirty
        c.bindBacking(disk);
        c.activate(config(Map.of()), Map.of());
        try {
            CacheDeviceFacade f = opened(c);
            f.write(0, Harness.pattern(0, 4096, 2), true);
            disk.failWrites.set(Integer.MAX_VALUE);
            c.modified(config(Map.of("cache__mode", "passthrough")), Map.of());
            onControl(c, () -> { }); // the switch ran, and failed: write-back made no progress in 300 ms
            assertEquals(CacheMode.WRITEBACK, f.mode(), "write-back cannot write");
            disk.failWrites.set(0);
            await("pass-through entered on its own once write-back can write", () -> f.mode() == CacheMode.PASSTHROUGH);
            assertEquals(0, f.statistics().dirtyBytes());
            assertTrue(java.util.Arrays.equals(Harness.pattern(0, 4096, 2).array(), disk.content(0, 4096)));
            c.modified(config(Map.of("cache__mode", "writeback")), Map.of());
            onControl(c, () -> { });
            assertEquals(CacheMode.WRITEBACK, f.mode(), "a later change of the configured mode is not undone");
        } finally {
            c.deactivate();
        }
    }

    /**
     * A switch to pass-through that a configuration change started drains on the control thread,
     * for as long as write-back takes: here its backing write hangs (within the backing timeout).
     * A deactivation (a stop) ends the drain and closes the cache, the dirty data kept. Before, the
     * deactivation waited 60 s for the control thread (as long as the launcher's watchdog gives a
     * whole stop, which then halted the JVM) and only then closed the cache.
     */
    @Test
    @Timeout(180)
    void aStopEndsADrainRunningOnTheControlThread() throws Exception {
        HeapPmemProvider heap = new HeapPmemProvider();
        MemoryBacking disk = new MemoryBacking(64 * Harness.MIB, "disk", false);
        PcacheTargetComponent c = component(new Mapping(heap, "heap"));
        c.bindWriteback(Harness.onlyWhenDraining(new OrderedWritebackPolicy()));
        c.bindBacking(disk);
        Map<String, Object> slowDisk = Map.of("backing__timeout__ms", 600_000L);
        c.activate(config(slowDisk), Map.of());
        CountDownLatch hang = new CountDownLatch(1);
        long tookNanos;
        try {
            opened(c).write(0, Harness.pattern(0, 4096, 1), true);
            CountDownLatch writing = new CountDownLatch(1);
            disk.onWrite = (at, bytes) -> {
                writing.countDown();
                try {
                    hang.await(120, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            };
            c.modified(config(Map.of("cache__mode", "passthrough", "backing__timeout__ms", 600_000L)), Map.of());
            assertTrue(writing.await(30, TimeUnit.SECONDS), "the drain's write-back writes");
        } finally {
            long start = System.nanoTime();
            c.deactivate();
            tookNanos = System.nanoTime() - start;
            disk.onWrite = null;
            hang.countDown();
        }
        assertTrue(tookNanos < TimeUnit.SECONDS.toNanos(40), "the stop took " + tookNanos / 1_000_000 + " ms");
        PcacheTargetComponent again = component(new Mapping(heap, "heap"));
        again.bindWriteback(Harness.onlyWhenDraining(new OrderedWritebackPolicy()));
        again.bindBacking(disk);
        again.activate(config(Map.of()), Map.of());
        try {
            CacheDeviceFacade f = opened(again);
            assertEquals(CacheMode.WRITEBACK, f.mode());
            assertTrue(java.util.Arrays.equals(Harness.pattern(0, 4096, 1).array(), Harness.read(f, 0, 4096)));
        } finally {
            again.deactivate();
        }
    }

    /**
     * A cache device reached through a link is the device it links to: a second cache on it is
     * refused by the device's lock. Before, each path took a lock file of its own, next to the
     * path as written, and both caches opened one device.
     */
    @Test
    @Timeout(120)
    void aCacheDeviceReachedThroughALinkIsLockedAsTheDeviceItself() throws Exception {
        Path link = java.nio.file.Files.createSymbolicLink(dir.resolve("link.cache"),
                java.nio.file.Files.createFile(dir.resolve("c.cache")));
        MemoryBacking disk = new MemoryBacking(64 * Harness.MIB, "disk", false);
        PcacheTargetComponent first = component(new Mapping(new HeapPmemProvider(), "heap"));
        first.bindBacking(disk);
        first.activate(config(Map.of()), Map.of());
        try {
            opened(first);
            PcacheTargetComponent second = component(new Mapping(new HeapPmemProvider(), "heap"));
            second.bindBacking(new MemoryBacking(64 * Harness.MIB, "other", false));
            second.activate(config(Map.of("name", "d", "cache__dev", link.toString())), Map.of());
            try {
                onControl(second, () -> { });
                assertEquals(null, facade(second), "a second cache opened the device through a link");
                assertEquals(second.failure(), publishedFailure("d"));
                assertTrue(second.failure().contains("is already used by another cache in this process"),
                        second.failure());
            } finally {
                second.deactivate();
            }
            assertNull(publishedFailure("d"), "withdrawn when the cache is deactivated");
        } finally {
            first.deactivate();
        }
    }

    /**
     * A cache device reached through a hard link in another folder is the device itself: a second
     * cache on it is refused by the lock on the device's file ({@link pcache.io.lock.DeviceFileLock}), and opens
     * once the first has closed. Before, each name took a lock file next to itself (a hard link has
     * no target to resolve), and both caches opened one device.
     */
    @Test
    @Timeout(120)
    void aCacheDeviceReachedThroughAHardLinkElsewhereIsRefusedUntilTheFirstCloses() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(pcache.io.lock.DeviceFileLock.supportedPlatform(),
                "open file description locks of 64-bit x86 and ARM Linux");
        Path device = java.nio.file.Files.createFile(dir.resolve("c.cache"));
        Path link = java.nio.file.Files.createLink(
                java.nio.file.Files.createDirectories(dir.resolve("elsewhere")).resolve("d.cache"), device);
        HeapPmemProvider heap = new HeapPmemProvider();
        PcacheTargetComponent first = component(new Mapping(heap, "heap"));
        first.bindBacking(new MemoryBacking(64 * Harness.MIB, "disk", false));
        first.activate(config(Map.of()), Map.of());
        Map<String, Object> second = Map.of("name", "d", "cache__dev", link.toString());
        try {
            opened(first);
            PcacheTargetComponent refused = component(new Mapping(new HeapPmemProvider(), "heap"));
            refused.bindBacking(new MemoryBacking(64 * Harness.MIB, "other", false));
            refused.activate(config(second), Map.of());
            try {
                onControl(refused, () -> { });
                assertNull(facade(refused), "a second cache opened the device through a hard link");
                assertEquals("cache device " + link + " is in use by another cache, reached through another name (a"
                        + " hard link or a bind mount of the same file), in this process or another; stop that cache"
                        + " first, or give this one a cache device of its own", refused.failure());
            } finally {
                refused.deactivate();
            }
        } finally {
            first.deactivate();
        }
        opensAgain(second); // the device is free again
    }

    /**
     * A block device claimed already (here by a lock on another node of it, as another pcache
     * would hold it) is refused as busy, with what to do. Before, a second device node of one
     * block device was a second file to the lock, and both caches opened the device.
     */
    @Test
    @Timeout(120)
    void aBlockDeviceClaimedThroughAnotherNodeIsRefusedAsBusy() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(pcache.io.lock.DeviceFileLock.supportedPlatform(),
                "open file description locks of 64-bit x86 and ARM Linux");
        Path image = java.nio.file.Files.write(dir.resolve("loop.img"), new byte[1 << 20]); // refused before any mapping
        try (pcache.testkit.LoopDevice loop = pcache.testkit.LoopDevice.over(image)) {
            Path alias = loop.secondNode(dir.resolve("alias"));
            pcache.io.lock.DeviceFileLock.Locked held = (pcache.io.lock.DeviceFileLock.Locked)
                    pcache.io.lock.DeviceFileLock.tryLock(loop.path());
            try {
                PcacheTargetComponent c = component(new Mapping(new HeapPmemProvider(), "heap"));
                c.bindBacking(new MemoryBacking(64 * Harness.MIB, "disk", false));
                c.activate(config(Map.of("cache__dev", alias.toString())), Map.of());
                try {
                    onControl(c, () -> { });
                    assertNull(facade(c), "a cache opened a claimed block device");
                    assertEquals("cache device " + alias + " is busy: a block device that is mounted, held by the"
                            + " kernel (device mapper, md, swap) or opened exclusively by another program, perhaps"
                            + " another pcache through another device node of it; unmount or release it first, or"
                            + " give this cache a device of its own", c.failure());
                } finally {
                    c.deactivate();
                }
            } finally {
                held.lock().close();
            }
        }
    }

    /**
     * A cache stopped while its open waits for a backing device stops at once: the open gives up
     * its wait. Before, the stop waited for the open's backing_timeout_ms (30 s by default, a
     * minute here), with nothing to close.
     */
    @Test
    @Timeout(120)
    void aStopWhileTheOpenWaitsForABackingDeviceEndsTheWait() throws Exception {
        PcacheTargetComponent c = component(new Mapping(new HeapPmemProvider(), "heap"));
        c.activate(config(Map.of("backing__timeout__ms", 60_000L)), Map.of());
        Thread control = null;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (control == null) { // the open, waiting in BackingHolder.acquire
            for (Map.Entry<Thread, StackTraceElement[]> t : Thread.getAllStackTraces().entrySet()) {
                if (t.getKey().getName().equals("pcache-c-control") && java.util.Arrays.stream(t.getValue())
                        .anyMatch(f -> f.getClassName().equals(BackingHolder.class.getName())
                                && f.getMethodName().startsWith("acquire"))) {
                    control = t.getKey();
                }
            }
            assertTrue(System.nanoTime() < deadline, "the open did not wait for a backing device within 30 s");
            Thread.sleep(5);
        }
        long start = System.nanoTime();
        try (ComponentLog log = new ComponentLog()) {
            c.deactivate();
            assertTrue(log.records.contains("INFO cache c: stopped before it opened (cache c is shutting down)"),
                    "the stop is logged as one: " + log.records);
            assertTrue(log.records.stream().noneMatch(r -> r.startsWith("SEVERE")), "no error: " + log.records);
        }
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
        assertTrue(seconds < 30, "the stop took " + seconds + " s, the open's wait for a backing device (60 s)");
        control.join(TimeUnit.SECONDS.toMillis(30));
        assertTrue(!control.isAlive(), "the control thread ended");
        assertNull(publishedFailure("c"), "a stop is no failure to publish");
    }

    /**
     * A stop that comes before the open has begun to wait for a backing device (here while it
     * maps the cache device) ends that wait too, as soon as it begins. Before, only an open already
     * waiting gave up, and one that got there after the stop waited its full backing_timeout_ms.
     */
    @Test
    @Timeout(120)
    void aStopBeforeTheOpenWaitsForABackingDeviceEndsTheWaitToo() throws Exception {
        Mapping mapping = new Mapping(new HeapPmemProvider(), "heap");
        mapping.holdOpens = new CountDownLatch(1);
        PcacheTargetComponent c = component(mapping);
        c.activate(config(Map.of("backing__timeout__ms", 60_000L)), Map.of());
        Thread stopping = new Thread(c::deactivate, "deactivate");
        try (ComponentLog log = new ComponentLog()) {
            assertTrue(mapping.openHeld.await(30, TimeUnit.SECONDS), "the open began");
            long start = System.nanoTime();
            stopping.start();
            awaitDeactivationBegun(c);
            mapping.holdOpens.countDown(); // the open goes on to wait for a backing device
            stopping.join(TimeUnit.SECONDS.toMillis(60));
            long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
            assertTrue(!stopping.isAlive() && seconds < 30, "the stop took " + seconds + " s or more, the open's"
                    + " wait for a backing device (60 s)");
            assertTrue(log.records.contains("INFO cache c: stopped before it opened (cache c is shutting down)"),
                    "the stop is logged as one: " + log.records);
        } finally {
            mapping.holdOpens.countDown();
            stopping.join(TimeUnit.SECONDS.toMillis(90));
        }
    }

    /**
     * A new cache whose backing device comes only after its open gave up waiting for one (an NBD
     * export not yet reachable) opens once the device binds. Before, it stayed closed until a
     * restart or a configuration change.
     */
    @Test
    @Timeout(120)
    void aCacheWhoseOpenWaitedInVainForABackingDeviceOpensOnceOneBinds() throws Exception {
        PcacheTargetComponent c = component(new Mapping(new HeapPmemProvider(), "heap"));
        c.activate(config(Map.of()), Map.of()); // a blank device: formatting it pairs it with the backing device
        try {
            onControl(c, () -> { });
            assertEquals(null, facade(c), "opened without a backing device");
            assertTrue(c.failure().contains("no backing device"), c.failure());
            c.bindBacking(new MemoryBacking(64 * Harness.MIB, "late", false));
            awaitOpen(c, "the cache opened once a backing device was bound");
        } finally {
            c.deactivate();
        }
    }

    /**
     * An open that fails publishes why ({@link CacheOpenFailure}), so that the launcher's {@code -c},
     * {@code pcache:create} and the health checks need not wait for a cache that is not coming; it is
     * withdrawn when the cache tries again and stays withdrawn once it opens. Before, the reason was
     * only logged, and {@code -c} waited its full 30 s.
     */
    @Test
    @Timeout(120)
    void anOpenThatFailsPublishesWhyUntilTheCacheTriesAgain() throws Exception {
        PcacheTargetComponent c = component(new Mapping(new HeapPmemProvider(), "heap"));
        c.bindBacking(new MemoryBacking(64 * Harness.MIB, "disk", false));
        Path absent = dir.resolve("absent");
        c.activate(config(Map.of("cache__dev", absent.resolve("c.cache").toString())), Map.of());
        try {
            onControl(c, () -> { });
            assertNull(facade(c));
            String reason = publishedFailure("c");
            assertEquals(c.failure(), reason, "the reason logged, not waiting for a backing device");
            assertEquals("cannot create the lock file " + absent.resolve("c.cache.lock") + " of cache device "
                    + absent.resolve("c.cache") + " (NoSuchFileException: " + absent.resolve("c.cache.lock") + "): its"
                    + " folder must exist and be writable for the user running pcache", reason);
            c.modified(config(Map.of()), Map.of()); // a cache device that can be made
            CacheDeviceFacade f = opened(c);
            assertNull(publishedFailure("c"), "withdrawn once the cache opens");
            assertEquals(CacheMode.WRITEBACK, f.mode());
        } finally {
            c.deactivate();
        }
        assertNull(publishedFailure("c"));
    }

    /**
     * A cache that failed for want of a backing device says so ({@link CacheOpenFailure#waitsForBacking()}):
     * it opens by itself once one is bound, so it is opening rather than failed.
     */
    @Test
    @Timeout(120)
    void aCacheWaitingForItsBackingDevicePublishesThatItWaits() throws Exception {
        PcacheTargetComponent c = component(new Mapping(new HeapPmemProvider(), "heap"));
        c.activate(config(Map.of()), Map.of());
        try {
            onControl(c, () -> { });
            String reason = publishedFailure("c");
            assertEquals("it waits for its backing device (backing.target " + TargetProperties.BACKING_TARGET_DEFAULT
                    + "): a blank cache device is formatted for its backing device and a dm-pcache image is paired"
                    + " with it, so neither opens without one (waits for backing)", reason);
            c.bindBacking(new MemoryBacking(64 * Harness.MIB, "late", false));
            awaitOpen(c, "the cache opened once a backing device was bound");
            onControl(c, () -> { });
            assertNull(publishedFailure("c"));
        } finally {
            c.deactivate();
        }
    }

    /**
     * A fake Declarative Services runtime that knows one configured file backing device, named
     * {@code name}, in {@code state} (FAILED_ACTIVATION with {@code failure}, or another; none
     * configured for {@link #NOT_CONFIGURED}).
     */
    private static ServiceComponentRuntime runtimeWithBacking(String name, java.util.function.IntSupplier state,
            String failure) {
        ComponentDescriptionDTO file = new ComponentDescriptionDTO();
        file.configurationPid = new String[] {"pcache.backing.file"};
        return (ServiceComponentRuntime) Proxy.newProxyInstance(ServiceComponentRuntime.class.getClassLoader(),
                new Class<?>[] {ServiceComponentRuntime.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "getComponentDescriptionDTOs" -> List.of(file);
                    case "getComponentConfigurationDTOs" -> {
                        if (state.getAsInt() == NOT_CONFIGURED) {
                            yield List.of();
                        }
                        ComponentConfigurationDTO c = new ComponentConfigurationDTO();
                        c.state = state.getAsInt();
                        c.properties = Map.of("name", name, "path", "/d/" + name);
                        c.failure = c.state == ComponentConfigurationDTO.FAILED_ACTIVATION ? failure : null;
                        yield List.of(c);
                    }
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    /** A state for {@link #runtimeWithBacking}: its configuration is gone. */
    private static final int NOT_CONFIGURED = -1;

    private static final String LOCKED = "pcache.backing.file.internal.BackingConfigurationException: backing device"
            + " 'disk' (pcache.backing.file): path=/d/disk is in use by another user\n\tat x.y(Z.java:1)\n";

    /**
     * A new cache whose backing device failed to open (its file held by another pcache, say) stops
     * waiting for it and publishes why, as a failure, not as a wait: a tool waiting for the cache
     * (`-c`, the health check) says why at once. It opens as soon as a backing device is bound.
     * Before, the open waited its backing_timeout_ms (30 s by default, a minute here) and then
     * published only that it waited for a backing device.
     */
    @Test
    @Timeout(120)
    void aNewCacheWhoseBackingDeviceFailedToOpenSaysWhyAtOnce() throws Exception {
        java.util.concurrent.atomic.AtomicInteger state = new java.util.concurrent.atomic.AtomicInteger(
                ComponentConfigurationDTO.FAILED_ACTIVATION);
        PcacheTargetComponent c = component(new Mapping(new HeapPmemProvider(), "heap"));
        c.bindRuntime(runtimeWithBacking("disk", state::get, LOCKED));
        long start = System.nanoTime();
        c.activate(config(Map.of("backing__timeout__ms", 60_000L, "backing_target", CacheDefinition.backingFilter("disk"))), Map.of());
        try {
            await("a failure published", () -> publishedFailure("c") != null);
            long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
            assertTrue(seconds < 30, "published after " + seconds + " s, the open's whole wait (60 s)");
            assertEquals("cache c waits for a backing device that cannot open: backing device disk cannot be opened:"
                    + " backing device 'disk' (pcache.backing.file): path=/d/disk is in use by another user."
                    + " The cache opens by itself once that backing device opens (when its configuration is updated,"
                    + " or pcache restarts)", publishedFailure("c"), "a failure, not a wait");
            state.set(ComponentConfigurationDTO.ACTIVE); // mended: its device is registered
            c.bindBacking(new MemoryBacking(64 * Harness.MIB, "disk", false));
            awaitOpen(c, "the cache opened once its backing device was bound");
            onControl(c, () -> { });
            assertNull(publishedFailure("c"));
        } finally {
            c.deactivate();
        }
    }

    /** A cache, its runtime and the state the runtime gives its backing device "disk" ({@link #watchedCache}). */
    private record Watched(java.util.concurrent.atomic.AtomicInteger state, ServiceComponentRuntime runtime,
            PcacheTargetComponent cache) {
    }

    /**
     * A cache on {@code mapping} that selects backing device "disk", which its runtime knows as a
     * configured file device, active at first (its state can be changed): activated, its open begun.
     */
    private Watched watchedCache(Mapping mapping) throws Exception {
        java.util.concurrent.atomic.AtomicInteger state = new java.util.concurrent.atomic.AtomicInteger(
                ComponentConfigurationDTO.ACTIVE);
        ServiceComponentRuntime runtime = runtimeWithBacking("disk", state::get, LOCKED);
        PcacheTargetComponent c = component(mapping);
        c.bindRuntime(runtime);
        c.activate(config(Map.of("backing_target", CacheDefinition.backingFilter("disk"))), Map.of());
        return new Watched(state, runtime, c);
    }

    /**
     * A new cache that published that it waits for its backing device (one that may still open: an
     * NBD export connecting, say) says again what holds when the runtime's components change: that
     * the device failed, once it has; that it waits, once the failed configuration is gone. Before
     * (and in the session's first version), what was published at the open's end stayed.
     */
    @Test
    @Timeout(120)
    void aCacheWaitingForItsBackingDeviceSaysAgainWhatHoldsWhenTheRuntimeChanges() throws Exception {
        Watched w = watchedCache(new Mapping(new HeapPmemProvider(), "heap"));
        java.util.concurrent.atomic.AtomicInteger state = w.state();
        ServiceComponentRuntime runtime = w.runtime();
        PcacheTargetComponent c = w.cache();
        String waits = "it waits for its backing device (backing.target (pcache.backing.name=disk)): a blank cache"
                + " device is formatted for its backing device and a dm-pcache image is paired with it, so neither"
                + " opens without one (waits for backing)";
        try {
            await("a failure published", () -> publishedFailure("c") != null);
            assertEquals(waits, publishedFailure("c"), "an active device may still bind");
            state.set(ComponentConfigurationDTO.FAILED_ACTIVATION);
            c.runtimeChanged(runtime);
            onControl(c, () -> { });
            assertEquals("cache c waits for a backing device that cannot open: backing device disk cannot be opened:"
                    + " backing device 'disk' (pcache.backing.file): path=/d/disk is in use by another user."
                    + " The cache opens by itself once that backing device opens (when its configuration is updated,"
                    + " or pcache restarts)", publishedFailure("c"), "failed since");
            state.set(NOT_CONFIGURED);
            c.runtimeChanged(runtime);
            onControl(c, () -> { });
            assertEquals(waits, publishedFailure("c"), "its configuration gone, the cache waits again");
            c.bindBacking(new MemoryBacking(64 * Harness.MIB, "disk", false));
            awaitOpen(c, "the cache opened once its backing device was bound");
            state.set(ComponentConfigurationDTO.FAILED_ACTIVATION);
            c.runtimeChanged(runtime);
            onControl(c, () -> { });
            assertNull(publishedFailure("c"), "an open cache publishes no failure");
        } finally {
            c.deactivate();
        }
    }

    /**
     * A review that was queued before a configuration change of a cache that is not open leaves the
     * failure to the open the change queues: it publishes nothing for a configuration the cache has
     * not tried (a failure there is final to `-c`). The open then finds the failed device itself.
     */
    @Test
    @Timeout(120)
    void aReviewQueuedBeforeAConfigurationChangeLeavesTheFailureToTheOpen() throws Exception {
        Mapping mapping = new Mapping(new HeapPmemProvider(), "heap");
        Watched w = watchedCache(mapping);
        java.util.concurrent.atomic.AtomicInteger state = w.state();
        ServiceComponentRuntime runtime = w.runtime();
        PcacheTargetComponent c = w.cache();
        CountDownLatch busy = new CountDownLatch(1);
        try {
            await("a failure published", () -> publishedFailure("c") != null);
            mapping.holdOpens = new CountDownLatch(1); // the next open waits in its mapping
            ((ExecutorService) get(c, "control")).execute(() -> {
                try {
                    busy.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            state.set(ComponentConfigurationDTO.FAILED_ACTIVATION);
            c.runtimeChanged(runtime); // queued first
            c.modified(config(Map.of("backing_target", CacheDefinition.backingFilter("disk"),
                    "backing__timeout__ms", 60_000L)), Map.of()); // queues the open again
            publishedHistory.clear();
            busy.countDown();
            assertTrue(mapping.openHeld.await(30, TimeUnit.SECONDS), "the open began");
            assertEquals(List.of(), publishedHistory, "published before the open of the new configuration");
            mapping.holdOpens.countDown();
            await("the open's failure published", () -> {
                String f = publishedFailure("c");
                return f != null && f.startsWith("cache c waits for a backing device that cannot open");
            });
        } finally {
            busy.countDown();
            CountDownLatch hold = mapping.holdOpens;
            if (hold != null) {
                hold.countDown();
            }
            c.deactivate();
        }
    }

    /** A stopped cache says nothing more when the runtime changes: its failure went with it. */
    @Test
    @Timeout(120)
    void aStoppedCachePublishesNothingWhenTheRuntimeChanges() throws Exception {
        Watched w = watchedCache(new Mapping(new HeapPmemProvider(), "heap"));
        java.util.concurrent.atomic.AtomicInteger state = w.state();
        ServiceComponentRuntime runtime = w.runtime();
        PcacheTargetComponent c = w.cache();
        await("a failure published", () -> publishedFailure("c") != null);
        c.deactivate();
        assertNull(publishedFailure("c"), "withdrawn by the stop");
        state.set(ComponentConfigurationDTO.FAILED_ACTIVATION);
        c.runtimeChanged(runtime);
        assertNull(publishedFailure("c"), "nothing published after the stop");
    }

    /**
     * An open cache (one that opens without its backing device: its device records the disk) whose
     * backing device failed to open says why none is bound in its status, which the health check,
     * `pcache:status` and the Web Console show. Before, status said "none".
     */
    @Test
    @Timeout(120)
    void anOpenCacheWhoseBackingDeviceFailedToOpenSaysWhyNoneIsBound() throws Exception {
        HeapPmemProvider heap = new HeapPmemProvider();
        Map<String, Object> values = Map.of("backing_target", CacheDefinition.backingFilter("disk"));
        PcacheTargetComponent first = component(new Mapping(heap, "heap"));
        first.bindBacking(new MemoryBacking(64 * Harness.MIB, "disk", false));
        first.activate(config(values), Map.of());
        try {
            assertEquals("memory:disk", opened(first).status().backing());
        } finally {
            first.deactivate();
        }
        PcacheTargetComponent c = component(new Mapping(heap, "heap"));
        c.bindRuntime(runtimeWithBacking("disk", () -> ComponentConfigurationDTO.FAILED_ACTIVATION, LOCKED));
        c.activate(config(values), Map.of());
        try {
            assertEquals("none: backing device disk cannot be opened: backing device 'disk' (pcache.backing.file):"
                    + " path=/d/disk is in use by another user", opened(c).status().backing());
            set(c, "runtime", null);
            assertEquals("none", opened(c).status().backing(), "without the runtime, nothing more to say");
        } finally {
            c.deactivate();
        }
    }

    /** Two heap mappings of one store, and a component activated on the first (a backing device bound). */
    private record TwoMappings(Mapping first, Mapping second, PcacheTargetComponent component) {
    }

    /** {@link TwoMappings}; with {@code holdFirstOpen}, the first mapping's open waits until the test lets it go. */
    private TwoMappings activatedOnFirstOfTwoMappings(boolean holdFirstOpen) throws Exception {
        HeapPmemProvider heap = new HeapPmemProvider();
        Mapping first = new Mapping(heap, "heap");
        Mapping second = new Mapping(heap, "heap-2");
        if (holdFirstOpen) {
            first.holdOpens = new CountDownLatch(1);
        }
        PcacheTargetComponent c = component(first);
        c.bindBacking(new MemoryBacking(64 * Harness.MIB, "disk", false));
        c.activate(config(Map.of()), Map.of());
        return new TwoMappings(first, second, c);
    }

    /**
     * A cache stopped while its open runs (a framework stopping just after it started) closes what
     * the open made, says so, and releases its cache device. Before, the close was silent: the log
     * of a stop ended with the open's replay, as if the cache had been left open.
     */
    @Test
    @Timeout(120)
    void aCacheStoppedWhileItOpensIsClosedAndSaysSo() throws Exception {
        TwoMappings m = activatedOnFirstOfTwoMappings(true);
        PcacheTargetComponent c = m.component();
        ComponentLog log = new ComponentLog();
        Thread stopping = new Thread(c::deactivate, "deactivate");
        try {
            assertTrue(m.first().openHeld.await(30, TimeUnit.SECONDS), "the open began");
            stopping.start();
            awaitDeactivationBegun(c);
            m.first().holdOpens.countDown();
            stopping.join(TimeUnit.SECONDS.toMillis(60));
            assertTrue(!stopping.isAlive(), "the deactivation ended");
            assertNull(facade(c), "nothing left open");
            assertTrue(log.records.contains("INFO cache c closed: stopped while it opened"),
                    "the close is logged: " + log.records);
        } finally {
            log.close();
            m.first().holdOpens.countDown();
            stopping.join(TimeUnit.SECONDS.toMillis(60));
        }
        opensAgain(Map.of()); // the device is free again
    }

    /**
     * A pmem mapping bound while the cache opens through another is swapped to once the open
     * ends. Before, the bind found no cache yet and the cache stayed on the first mapping.
     */
    @Test
    @Timeout(120)
    void aMappingBoundWhileTheCacheOpensIsSwappedToOnceItIsOpen() throws Exception {
        TwoMappings m = activatedOnFirstOfTwoMappings(true);
        Mapping first = m.first();
        Mapping second = m.second();
        PcacheTargetComponent c = m.component();
        try {
            assertTrue(first.openHeld.await(30, TimeUnit.SECONDS), "the open began");
            c.bindPmem(second);
            CountDownLatch release = first.holdOpens;
            first.holdOpens = null;
            release.countDown();
            opened(c);
            onControl(c, () -> { });
            assertEquals(1, second.opens.get(), "the cache was re-opened through the mapping bound meanwhile");
            assertEquals(1, first.opens.get());
        } finally {
            c.deactivate();
        }
    }

    /**
     * A pmem swap queued behind other control work opens the configuration the cache runs, not
     * one a change queued after it will refuse (a new cache_dev). Before, the swap opened the new
     * device, formatting it, and the cache ran there while its data was on the old one.
     */
    @Test
    @Timeout(120)
    void aSwapOpensTheConfigurationTheCacheRunsNotARefusedOne() throws Exception {
        TwoMappings m = activatedOnFirstOfTwoMappings(false);
        Mapping second = m.second();
        PcacheTargetComponent c = m.component();
        try {
            CacheDeviceFacade f = opened(c);
            f.write(0, Harness.pattern(0, 4096, 5), true);
            CountDownLatch busy = new CountDownLatch(1);
            CountDownLatch held = new CountDownLatch(1);
            ((ExecutorService) get(c, "control")).execute(() -> {
                held.countDown();
                try {
                    busy.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            assertTrue(held.await(30, TimeUnit.SECONDS));
            c.bindPmem(second); // queued
            c.modified(config(Map.of("cache__dev", dir.resolve("other.cache").toString())), Map.of()); // refused when its turn comes
            busy.countDown();
            onControl(c, () -> { });
            assertEquals(1, second.opens.get(), "swapped");
            assertTrue(f.status().cacheDevice().contains("c.cache"), f.status().cacheDevice());
            assertTrue(java.util.Arrays.equals(Harness.pattern(0, 4096, 5).array(), Harness.read(f, 0, 4096)));
        } finally {
            c.deactivate();
        }
    }
}
