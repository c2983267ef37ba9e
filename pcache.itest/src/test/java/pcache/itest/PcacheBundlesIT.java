package pcache.itest;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import org.apache.felix.service.command.CommandProcessor;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.wiring.BundleCapability;
import org.osgi.framework.wiring.BundleRevision;
import org.osgi.framework.wiring.BundleWiring;
import org.osgi.service.component.runtime.ServiceComponentRuntime;
import org.osgi.service.component.runtime.dto.ComponentConfigurationDTO;
import org.osgi.service.component.runtime.dto.ComponentDescriptionDTO;
import org.osgi.service.log.LogEntry;
import org.osgi.service.log.LogLevel;
import org.osgi.service.log.LogListener;
import org.osgi.service.log.LogReaderService;

import pcache.api.CacheOpenFailure;
import pcache.api.tls.TlsChannel;
import pcache.api.tls.TlsEndpoint;
import pcache.api.tls.TlsProvider;
import pcache.api.tls.TlsSettings;

/** The assembled distribution: every bundle resolves and starts, components and commands come up. */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class PcacheBundlesIT extends PcacheTestSupport {

    @Test
    public void everyBundleIsActive() {
        for (Bundle b : context.getBundles()) {
            boolean fragment = b.getHeaders().get(Constants.FRAGMENT_HOST) != null;
            assertTrue(b.getSymbolicName() + " is in state " + b.getState(),
                    fragment ? b.getState() == Bundle.RESOLVED : b.getState() == Bundle.ACTIVE);
        }
    }

    @Test
    public void exactlyTheDistributionIsInstalled() throws Exception {
        Set<String> installed = new HashSet<>();
        for (Bundle b : context.getBundles()) {
            installed.add(b.getSymbolicName());
        }
        Set<String> shipped = new TreeSet<>();
        for (File jar : distributionBundles()) {
            String bsn = symbolicName(jar);
            assertNotNull(jar + " is not a bundle", bsn);
            shipped.add(bsn);
        }
        assertTrue("installed " + installed + " lacks some of " + shipped, installed.containsAll(shipped));
        assertTrue("pcache.shell ships", shipped.contains("pcache.shell"));
    }

    @Test
    public void systemBundleExportsWhatPmemNeeds() {
        BundleWiring wiring = context.getBundle(Constants.SYSTEM_BUNDLE_ID).adapt(BundleWiring.class);
        Set<String> exported = new HashSet<>();
        for (BundleCapability c : wiring.getCapabilities(BundleRevision.PACKAGE_NAMESPACE)) {
            exported.add((String) c.getAttributes().get(BundleRevision.PACKAGE_NAMESPACE));
        }
        assertTrue("sun.misc exported by the system bundle", exported.contains("sun.misc"));
        assertTrue("jdk.nio.mapmode exported by the system bundle", exported.contains("jdk.nio.mapmode"));
    }

    @Test
    public void expectedComponentsAreActive() throws Exception {
        ServiceComponentRuntime scr = awaitService(ServiceComponentRuntime.class, null);
        for (String name : ExpectedComponents.ACTIVE_WITHOUT_CONFIGURATION) {
            ComponentDescriptionDTO description = describe(scr, name);
            assertTrue(name + " is disabled", scr.isComponentEnabled(description));
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            int state;
            while ((state = state(scr, description)) != ComponentConfigurationDTO.ACTIVE) {
                // a delayed component (one that provides a service) is activated on first use and
                // deactivated again on the last release: getting its service proves it activates
                if (state == ComponentConfigurationDTO.SATISFIED && activates(name)) {
                    break;
                }
                assertTrue(name + " is not active but in state " + state + " (unsatisfied references?)",
                        System.nanoTime() < deadline);
                Thread.sleep(50);
            }
        }
        for (String name : ExpectedComponents.WAITING_FOR_CONFIGURATION) {
            assertTrue(name + " is disabled", scr.isComponentEnabled(describe(scr, name)));
        }
    }

    private static ComponentDescriptionDTO describe(ServiceComponentRuntime scr, String name) {
        Collection<ComponentDescriptionDTO> all = scr.getComponentDescriptionDTOs();
        return all.stream().filter(d -> d.name.equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no component " + name + " among "
                        + all.stream().map(d -> d.name).sorted().toList()));
    }

    private static int state(ServiceComponentRuntime scr, ComponentDescriptionDTO description) {
        Collection<ComponentConfigurationDTO> configurations = scr.getComponentConfigurationDTOs(description);
        return configurations.stream().mapToInt(c -> c.state).max().orElse(0);
    }

    /** A delayed component activates when someone gets its service. */
    private boolean activates(String componentName) throws Exception {
        ServiceReference<?>[] refs = context.getServiceReferences((String) null, "(component.name=" + componentName + ")");
        if (refs == null) {
            return false;
        }
        for (ServiceReference<?> ref : refs) {
            Object service = context.getService(ref);
            try {
                if (service == null) {
                    return false;
                }
            } finally {
                context.ungetService(ref);
            }
        }
        return true;
    }

    @Test
    public void pcacheCommandsAreRegisteredAndRun() throws Exception {
        awaitService(CommandProcessor.class, null);
        Set<String> functions = new TreeSet<>();
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (!functions.containsAll(List.of("list", "version")) && System.nanoTime() < deadline) {
            ServiceReference<?>[] refs = context.getServiceReferences((String) null, "(osgi.command.scope=pcache)");
            for (ServiceReference<?> ref : refs == null ? new ServiceReference<?>[0] : refs) {
                Object f = ref.getProperty("osgi.command.function");
                functions.addAll(f instanceof String[] a ? Arrays.asList(a) : List.of(String.valueOf(f)));
            }
            Thread.sleep(50);
        }
        assertTrue("pcache commands: " + functions, functions.containsAll(List.of("list", "version")));

        String version = execute("pcache:version");
        assertTrue(version, version.startsWith("pcache.shell "));
        // the framework this run asked for (Felix or Equinox: see the pom), as the system bundle names itself
        Bundle framework = context.getBundle(Constants.SYSTEM_BUNDLE_LOCATION);
        assertEquals(System.getProperty("pcache.itest.framework"), framework.getSymbolicName());
        assertTrue(version, version.contains("OSGi framework " + framework.getSymbolicName() + " "
                + framework.getVersion()));
        String list = execute("pcache:list");
        assertTrue(list, list.startsWith("caches"));
        assertTrue(list, list.contains("\ncrc providers: "));
        assertEquals("usage: pcache:list [-h]", execute("pcache:list -h").lines().findFirst().orElse(""));
    }

    /**
     * A cache that cannot open without its backing device says again what holds as that device's
     * configuration changes, through the real runtime's change count (the reference's
     * {@code updated} method): that it waits while its NBD device connects, that the device failed
     * once its settings are refused, that it waits again once that configuration is gone.
     */
    @Test
    public void aCacheSaysWhetherItsBackingDeviceFailedAsThatDeviceChanges() throws Exception {
        Path dir = workDirectory("backing-failure");
        org.osgi.service.cm.Configuration backing = configure("pcache.backing.nbd", "bf-backing", Map.of("name",
                "bf-backing", "uri", "nbd://127.0.0.1:1/none")); // nothing listens: it connects in the background
        java.util.Hashtable<String, Object> target = new java.util.Hashtable<>();
        target.put("name", "bf");
        target.put("cache_dev", dir.resolve("bf.cache").toString());
        target.put("cache_dev_size_bytes", 512L << 20);
        target.put("backing.target", "(pcache.backing.name=bf-backing)");
        target.put("backing_timeout_ms", 500L);
        org.osgi.service.cm.Configuration cache = configure("pcache.target", "bf", target);
        try {
            waitFor("cache bf to say it waits for its backing device", TIMEOUT.toMillis(),
                    () -> Boolean.TRUE.equals(openFailure("bf", CacheOpenFailure.WAITS_FOR_BACKING)));
            update(backing, "uri", "nbds://127.0.0.1:1/none"); // TLS without credentials: its activation fails
            waitFor("cache bf to say its backing device failed", TIMEOUT.toMillis(),
                    () -> Boolean.FALSE.equals(openFailure("bf", CacheOpenFailure.WAITS_FOR_BACKING)));
            String reason = String.valueOf(openFailure("bf", CacheOpenFailure.REASON));
            assertTrue(reason, reason.startsWith("cache bf waits for a backing device that cannot open: backing device"
                    + " bf-backing cannot be opened: ") && reason.contains("nbds://127.0.0.1:1/none"));
            backing.delete();
            waitFor("cache bf to say it waits again", TIMEOUT.toMillis(),
                    () -> Boolean.TRUE.equals(openFailure("bf", CacheOpenFailure.WAITS_FOR_BACKING)));
        } finally {
            cache.delete();
            try {
                backing.delete();
            } catch (IllegalStateException e) {
                // deleted above
            }
        }
    }

    /** A property of the {@link CacheOpenFailure} service of cache {@code name}, or null when it has none. */
    private Object openFailure(String name, String property) throws Exception {
        Collection<ServiceReference<CacheOpenFailure>> refs = context.getServiceReferences(CacheOpenFailure.class,
                "(" + CacheOpenFailure.NAME + "=" + name + ")");
        return refs.isEmpty() ? null : refs.iterator().next().getProperty(property);
    }

    /**
     * pcache's bundles log through the OSGi Log Service: a cache that cannot be opened is an ERROR
     * entry of bundle pcache.engine that every LogReaderService's listeners get (Felix Log here;
     * on Equinox also the framework's own), with pcache's message.
     */
    @Test
    public void pcacheLogsThroughTheOsgiLogService() throws Exception {
        awaitService(LogReaderService.class, null);
        List<LogEntry> entries = new CopyOnWriteArrayList<>();
        LogListener listener = entries::add;
        List<LogReaderService> readers = new ArrayList<>();
        for (ServiceReference<LogReaderService> ref : context.getServiceReferences(LogReaderService.class, null)) {
            LogReaderService reader = context.getService(ref);
            reader.addLogListener(listener);
            readers.add(reader);
        }
        Path dir = workDirectory("logs");
        org.osgi.service.cm.Configuration cache = configure("pcache.target", "logs", Map.of("name", "logs",
                "cache_dev", dir.resolve("no-such-folder").resolve("logs.cache").toString(),
                "cache_dev_size_bytes", 512L << 20));
        try {
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            LogEntry found = null;
            while (found == null && System.nanoTime() < deadline) {
                found = entries.stream().filter(e -> "pcache.engine".equals(e.getBundle().getSymbolicName())
                        && e.getMessage().startsWith("cache logs cannot be opened: ")).findFirst().orElse(null);
                Thread.sleep(50);
            }
            assertNotNull("no entry of pcache.engine about cache logs among " + entries.size() + " entries", found);
            assertEquals(LogLevel.ERROR, found.getLogLevel());
            assertEquals("pcache.engine.internal.PcacheTargetComponent", found.getLoggerName());
        } finally {
            cache.delete();
            readers.forEach(r -> r.removeLogListener(listener));
        }
    }

    /**
     * The TLS provider works inside the framework: pcache.tls wires to the Bouncy Castle bundles
     * (a PSK handshake runs bctls over the JDK's cryptography) over a loopback connection.
     */
    @Test
    public void tlsProviderRunsAPskHandshake() throws Exception {
        TlsProvider provider = awaitService(TlsProvider.class, null);
        Path dir = Files.createTempDirectory("pcache-itest-tls");
        Path keys = Files.writeString(dir.resolve("keys.psk"),
                "alice:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n");
        TlsEndpoint server = provider.server(TlsSettings.psk(keys, null));
        TlsEndpoint client = provider.client(TlsSettings.psk(keys, "alice"));
        try (ServerSocketChannel listener = ServerSocketChannel.open()) {
            listener.bind(new InetSocketAddress("127.0.0.1", 0));
            CompletableFuture<String> served = CompletableFuture.supplyAsync(() -> {
                try (SocketChannel socket = listener.accept();
                     TlsChannel channel = server.handshake(socket, socket.getRemoteAddress().toString())) {
                    ByteBuffer received = ByteBuffer.allocate(5);
                    while (received.hasRemaining() && channel.read(received) >= 0) {
                        // until all 5 bytes arrived
                    }
                    return channel.peerIdentity() + " said " + new String(received.array(), StandardCharsets.US_ASCII);
                } catch (Exception e) {
                    return e.toString();
                }
            });
            try (TlsChannel channel = client.handshake(SocketChannel.open(listener.getLocalAddress()), "server")) {
                assertEquals("TLSv1.3", channel.protocol());
                channel.write(ByteBuffer.wrap("hello".getBytes(StandardCharsets.US_ASCII)));
                assertEquals("alice said hello", served.get(20, TimeUnit.SECONDS));
            }
        } finally {
            Files.delete(keys);
            Files.delete(dir);
        }
    }
}
