package pcache.shell.internal;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Dictionary;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.Hashtable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;

import org.apache.felix.service.command.CommandSession;
import org.osgi.framework.FrameworkUtil;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;

import pcache.api.BackingDeviceException;
import pcache.api.BackingState;
import pcache.api.CacheConditions;
import pcache.api.CacheDevice;
import pcache.api.CacheMode;
import pcache.api.CachePos;
import pcache.api.CacheStatistics;
import pcache.api.CacheStatus;
import pcache.api.NbdExports;
import pcache.api.spi.BackingDevice;
import pcache.api.spi.BackingIdentity;
import pcache.api.spi.CrcProvider;
import pcache.api.spi.KeyIndex;
import pcache.api.spi.KeyIndexProvider;
import pcache.api.spi.KeyLog;
import pcache.api.spi.KeyLogContext;
import pcache.api.spi.PmemProvider;
import pcache.api.spi.PmemRegion;
import pcache.api.spi.SegmentAllocator;
import pcache.api.spi.SegmentAllocatorProvider;
import pcache.api.spi.SegmentContext;
import pcache.api.spi.WritebackContext;
import pcache.api.spi.WritebackOutcome;
import pcache.api.spi.WritebackPolicy;

/** Plain fakes of the services the commands use. */
final class Fakes {

    private Fakes() {
    }

    /** A cache with fixed answers; {@code status == null} makes status() throw. */
    record FakeCache(String name, long sizeBytes, CacheMode mode, CacheStatus status) implements CacheDevice {
        @Override
        public CacheStatus status() {
            if (status == null) {
                throw new IllegalStateException("cache " + name + " is closing");
            }
            return status;
        }

        @Override
        public CacheStatistics statistics() {
            throw new UnsupportedOperationException();
        }

        @Override
        public void setMode(CacheMode m) {
            throw new UnsupportedOperationException();
        }

        @Override
        public int gcPercent() {
            return 70;
        }

        @Override
        public void setGcPercent(int percent) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void drain(DrainProgress progress) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void read(long offset, ByteBuffer dst) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void write(long offset, ByteBuffer src, boolean fua) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void flush() {
        }

        @Override
        public void trim(long offset, long length) {
        }

        @Override
        public void writeZeroes(long offset, long length, boolean fua) {
            throw new UnsupportedOperationException();
        }
    }

    static CacheStatus status(String name, boolean clean, BackingState state, String backing) {
        CachePos head = new CachePos(3, 4096);
        CachePos dirtyTail = clean ? head : new CachePos(2, 0);
        return new CacheStatus(name, 0, 64, 60, 5, 70, 0x1182, head, dirtyTail, new CachePos(1, 0),
                CacheMode.WRITEBACK, false, state, backing, "/data/" + name + ".cache (mapped)");
    }

    record FakeBacking(long sizeBytes, String id, BackingState state) implements BackingDevice {
        @Override
        public BackingIdentity identity() {
            return new BackingIdentity(sizeBytes, id);
        }

        @Override
        public String description() {
            return "fake:" + id;
        }

        @Override
        public void read(long offset, ByteBuffer dst) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void write(long offset, ByteBuffer src, boolean fua) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void flush() {
        }

        @Override
        public void trim(long offset, long length) {
        }

        @Override
        public void writeZeroes(long offset, long length, boolean fua) {
            throw new UnsupportedOperationException();
        }
    }

    static ListReport.BackingEntry backing(String name, String driver, BackingDevice device) {
        Map<String, Object> props = new HashMap<>();
        props.put(BackingDevice.NAME, name);
        props.put(BackingDevice.DRIVER, driver);
        return new ListReport.BackingEntry(props, device);
    }

    record OpenFailure(String name, String reason, boolean waitsForBacking) implements pcache.api.CacheOpenFailure {
    }

    record FakePmem(String type) implements PmemProvider {
        @Override
        public PmemRegion open(Path path, long createSizeBytes) {
            throw new UnsupportedOperationException();
        }
    }

    record FakeCrc(String algorithm) implements CrcProvider {
        @Override
        public int checksum(ByteBuffer data) {
            return 0;
        }

        @Override
        public int checksum(byte[] data, int offset, int length) {
            return 0;
        }
    }

    record FakePolicy(String name) implements WritebackPolicy {
        @Override
        public WritebackOutcome step(WritebackContext context) {
            return WritebackOutcome.IDLE;
        }
    }

    record FakeKeyIndex(String name) implements KeyIndexProvider {
        @Override
        public KeyIndex createIndex(long logicalSizeBytes) {
            throw new UnsupportedOperationException();
        }

        @Override
        public KeyLog openLog(KeyLogContext context) {
            throw new UnsupportedOperationException();
        }
    }

    record FakeAllocator(String name) implements SegmentAllocatorProvider {
        @Override
        public SegmentAllocator create(SegmentContext context) {
            throw new UnsupportedOperationException();
        }
    }

    // ---------------------------------------------------------------- for the commands

    /** A cache whose state the test sets; drain and passthrough behave like the real thing. */
    static final class LiveCache implements CacheDevice {
        final String name;
        final long sizeBytes;
        volatile CacheMode mode = CacheMode.WRITEBACK;
        volatile long dirtyBytes;
        volatile int gcPercent = 70;
        volatile String backing;
        volatile BackingState backingState = BackingState.ONLINE;
        volatile IOException drainFailure;
        volatile CacheConditions conditions = CacheConditions.NONE;
        final AtomicInteger flushes = new AtomicInteger();
        final List<String> progress = Collections.synchronizedList(new ArrayList<>());

        LiveCache(String name, long sizeBytes, String backing) {
            this.name = name;
            this.sizeBytes = sizeBytes;
            this.backing = backing;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public long sizeBytes() {
            return sizeBytes;
        }

        /** Clean keys (read-miss fills) logged ahead of dirty_tail, which write-back has not passed yet. */
        boolean cleanKeysAhead;

        @Override
        public CacheStatus status() {
            CachePos head = new CachePos(0, dirtyBytes == 0 && !cleanKeysAhead ? 5144 : 10288);
            CachePos dirtyTail = dirtyBytes == 0 && !cleanKeysAhead ? head : new CachePos(0, 5144);
            return new CacheStatus(name, 0, 31, 31, 3, gcPercent, 0x2 | (gcPercent << 6), head, dirtyTail,
                    new CachePos(0, 0), mode, false, backingState, backing, "/data/" + name + ".cache (mapped)");
        }

        @Override
        public CacheStatistics statistics() {
            return new CacheStatistics(10, 7, 2, 1, 40960, 32768, 1 << 20, 20, 2, 3, 1, 0, dirtyBytes, 12, 3, 31, 4,
                    1 << 20, 0, 0, 0, 0, 0, 0, 0);
        }

        @Override
        public CacheConditions conditions() {
            return conditions;
        }

        @Override
        public CacheMode mode() {
            return mode;
        }

        @Override
        public void setMode(CacheMode m) throws IOException {
            if (m == CacheMode.PASSTHROUGH) {
                drain(null);
            }
            mode = m;
        }

        @Override
        public int gcPercent() {
            return gcPercent;
        }

        @Override
        public void setGcPercent(int percent) {
            if (percent < 0 || percent > 90) {
                throw new IllegalArgumentException("gc_percent " + percent + " is out of range");
            }
            gcPercent = percent;
        }

        @Override
        public void drain(DrainProgress p) throws IOException {
            long initial = dirtyBytes;
            if (drainFailure != null) {
                if (p != null) {
                    p.progress(initial, initial);
                }
                throw drainFailure;
            }
            for (int step = 0; step <= 4; step++) {
                long remaining = initial - initial * step / 4;
                if (p != null) {
                    p.progress(remaining, initial);
                }
                progress.add(remaining + "/" + initial);
            }
            dirtyBytes = 0;
        }

        @Override
        public void read(long offset, ByteBuffer dst) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void write(long offset, ByteBuffer src, boolean fua) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void flush() {
            flushes.incrementAndGet();
        }

        @Override
        public void trim(long offset, long length) {
        }

        @Override
        public void writeZeroes(long offset, long length, boolean fua) {
            throw new UnsupportedOperationException();
        }
    }

    static BackingDeviceException backingFailure(String message) {
        return new BackingDeviceException(message, null);
    }

    /** A configuration held in memory; the admin's listener sees every update and deletion. */
    static final class FakeConfiguration implements Configuration {
        private final FakeConfigAdmin admin;
        private final String pid;
        private final String factoryPid;
        private Hashtable<String, Object> properties;
        private long changes;

        FakeConfiguration(FakeConfigAdmin admin, String pid, String factoryPid) {
            this.admin = admin;
            this.pid = pid;
            this.factoryPid = factoryPid;
        }

        @Override
        public String getPid() {
            return pid;
        }

        @Override
        public Dictionary<String, Object> getProperties() {
            if (properties == null) {
                return null;
            }
            Hashtable<String, Object> copy = new Hashtable<>(properties);
            copy.put("service.pid", pid);
            if (factoryPid != null) {
                copy.put("service.factoryPid", factoryPid);
            }
            return copy;
        }

        @Override
        public Dictionary<String, Object> getProcessedProperties(ServiceReference<?> reference) {
            return getProperties();
        }

        @Override
        public void update(Dictionary<String, ?> p) throws IOException {
            Hashtable<String, Object> copy = new Hashtable<>();
            for (Enumeration<String> keys = p.keys(); keys.hasMoreElements();) {
                String k = keys.nextElement();
                if (!k.equals("service.pid") && !k.equals("service.factoryPid")) {
                    copy.put(k, p.get(k));
                }
            }
            properties = copy;
            changes++;
            admin.configs.put(pid, this);
            admin.listener.accept(this, "updated");
        }

        @Override
        public void delete() {
            admin.configs.remove(pid);
            admin.listener.accept(this, "deleted");
        }

        @Override
        public String getFactoryPid() {
            return factoryPid;
        }

        @Override
        public void update() {
            throw new UnsupportedOperationException();
        }

        @Override
        public boolean updateIfDifferent(Dictionary<String, ?> p) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void setBundleLocation(String location) {
            throw new UnsupportedOperationException();
        }

        @Override
        public String getBundleLocation() {
            return "?";
        }

        @Override
        public long getChangeCount() {
            return changes;
        }

        @Override
        public void addAttributes(ConfigurationAttribute... attrs) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Set<ConfigurationAttribute> getAttributes() {
            return Set.of();
        }

        @Override
        public void removeAttributes(ConfigurationAttribute... attrs) {
            throw new UnsupportedOperationException();
        }

        Object get(String key) {
            return properties == null ? null : properties.get(key);
        }
    }

    /** ConfigurationAdmin in memory: factory configurations by name, filters as the framework evaluates them. */
    static final class FakeConfigAdmin implements ConfigurationAdmin {
        final Map<String, FakeConfiguration> configs = new LinkedHashMap<>();
        final Map<String, FakeConfiguration> pending = new HashMap<>();
        BiConsumer<FakeConfiguration, String> listener = (c, event) -> {
        };

        @Override
        public Configuration getFactoryConfiguration(String factoryPid, String name, String location) {
            String pid = factoryPid + "~" + name;
            FakeConfiguration c = configs.get(pid);
            return c != null ? c : pending.computeIfAbsent(pid, p -> new FakeConfiguration(this, p, factoryPid));
        }

        @Override
        public Configuration getFactoryConfiguration(String factoryPid, String name) {
            return getFactoryConfiguration(factoryPid, name, null);
        }

        @Override
        public Configuration[] listConfigurations(String filter) throws InvalidSyntaxException {
            org.osgi.framework.Filter f = filter == null ? null : FrameworkUtil.createFilter(filter);
            List<Configuration> found = new ArrayList<>();
            for (FakeConfiguration c : configs.values()) {
                if (c.getProperties() != null && (f == null || f.match(c.getProperties()))) {
                    found.add(c);
                }
            }
            return found.isEmpty() ? null : found.toArray(Configuration[]::new);
        }

        @Override
        public Configuration createFactoryConfiguration(String factoryPid) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Configuration createFactoryConfiguration(String factoryPid, String location) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Configuration getConfiguration(String pid, String location) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Configuration getConfiguration(String pid) {
            throw new UnsupportedOperationException();
        }

        FakeConfiguration get(String pid) {
            return configs.get(pid);
        }
    }

    /** NbdExports over a map of names to "exported". */
    static final class FakeExports implements NbdExports {
        final Map<String, Boolean> exported = new LinkedHashMap<>();
        NbdExports.TlsInfo tls = new NbdExports.TlsInfo("off", "", 0);

        @Override
        public TlsInfo tls() {
            return tls;
        }

        @Override
        public List<String> listenAddresses() {
            return List.of("127.0.0.1:10809", "unix:/run/pcache.sock");
        }

        @Override
        public List<ExportInfo> exports() {
            List<ExportInfo> list = new ArrayList<>();
            exported.forEach((n, e) -> list.add(new ExportInfo(n, 1 << 30, e, e ? 2 : 0, 5, 4096, 512, 0)));
            return list;
        }

        @Override
        public void export(String name) throws IOException {
            if (!exported.containsKey(name)) {
                throw new IOException("no cache device named '" + name + "' is registered");
            }
            exported.put(name, true);
        }

        @Override
        public void unexport(String name) throws IOException {
            if (!exported.containsKey(name)) {
                throw new IOException("no export named '" + name + "'");
            }
            exported.put(name, false);
        }
    }

    /** A Gogo session whose console the test reads and whose current directory it sets. */
    static final class Session {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final PrintStream console = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        final CommandSession session;

        Session(Path currentDir) {
            session = (CommandSession) Proxy.newProxyInstance(CommandSession.class.getClassLoader(),
                    new Class<?>[] {CommandSession.class}, (proxy, method, args) -> switch (method.getName()) {
                        case "getConsole" -> console;
                        case "currentDir" -> currentDir;
                        case "hashCode" -> System.identityHashCode(proxy);
                        case "equals" -> proxy == args[0];
                        default -> throw new UnsupportedOperationException(method.getName());
                    });
        }

        String console() {
            return bytes.toString(StandardCharsets.UTF_8);
        }
    }
}
