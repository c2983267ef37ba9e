package pcache.export.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import pcache.api.BlockDevice;
import pcache.api.CacheDevice;
import pcache.api.NbdExports;
import pcache.api.config.ExportProperties;
import pcache.api.tls.TlsConfigurationException;
import pcache.api.tls.TlsEndpoint;
import pcache.api.tls.TlsProvider;
import pcache.api.tls.TlsSettings;
import pcache.api.nbd.NbdWire;

/** The DS shell, driven by hand the way SCR would drive it. */
@Timeout(30)
class NbdExportComponentTest {
    @TempDir
    Path dir;

    /** A CacheDevice whose block I/O goes to a MemoryBlockDevice; cache management is not needed here. */
    static CacheDevice cache(String name, MemoryBlockDevice memory) {
        return (CacheDevice) Proxy.newProxyInstance(CacheDevice.class.getClassLoader(),
                new Class<?>[] {CacheDevice.class}, (proxy, method, args) -> {
                    if (method.getDeclaringClass() == BlockDevice.class) {
                        try {
                            return method.invoke(memory, args);
                        } catch (InvocationTargetException e) {
                            throw e.getCause();
                        }
                    }
                    switch (method.getName()) {
                        case "name":
                            return name;
                        case "hashCode":
                            return System.identityHashCode(proxy);
                        case "equals":
                            return proxy == args[0];
                        case "toString":
                            return "cache " + name;
                        default:
                            throw new UnsupportedOperationException(method.getName());
                    }
                });
    }

    /** Activates {@code component} the way SCR does: the configuration as annotation and as properties. */
    static void activate(NbdExportComponent component, Map<String, Object> values) throws IOException {
        component.activate(config(values), values);
    }

    /** An instance of the configuration annotation, defaults overridden by {@code values}. */
    static NbdExportComponent.Config config(Map<String, Object> values) {
        return (NbdExportComponent.Config) Proxy.newProxyInstance(NbdExportComponent.Config.class.getClassLoader(),
                new Class<?>[] {NbdExportComponent.Config.class}, (proxy, method, args) -> {
                    // the DS rule: "__" in a method name is "_" in the property key
                    String key = method.getName().replace("__", "_");
                    if (values.containsKey(key)) {
                        return values.get(key);
                    }
                    Object fallback = method.getDefaultValue();
                    if (fallback == null) {
                        throw new UnsupportedOperationException(method.getName());
                    }
                    return fallback;
                });
    }

    private static List<String> listExports(Path socket) throws Exception {
        try (RawNbdClient c = RawNbdClient.connect(UnixDomainSocketAddress.of(socket)).handshakeStart()) {
            c.sendOption(NbdWire.OPT_LIST, new byte[0]);
            List<String> names = new ArrayList<>();
            for (RawNbdClient.OptionReply r : c.readOptionReplies()) {
                if (r.type() == NbdWire.REP_SERVER) {
                    ByteBuffer b = ByteBuffer.wrap(r.data());
                    byte[] name = new byte[b.getInt()];
                    b.get(name);
                    names.add(new String(name, StandardCharsets.UTF_8));
                }
            }
            return names;
        }
    }

    @Test
    void exportsCachesAsTheyComeAndGoUnderTheirServiceName() throws Exception {
        Path socket = dir.resolve("nbd.sock");
        NbdExportComponent component = new NbdExportComponent();
        MemoryBlockDevice m1 = new MemoryBlockDevice("one", 1 << 20);
        CacheDevice one = cache("one", m1);
        CacheDevice two = cache("two-internal", new MemoryBlockDevice("two", 1 << 20));
        CacheDevice twin = cache("one", new MemoryBlockDevice("twin", 2 << 20));

        component.bindCache(one, Map.of(CacheDevice.NAME, "one"));  // before activation, as SCR does
        activate(component, Map.of("listen", "unix:" + socket, "workers", 2));
        assertEquals(List.of("one"), listExports(socket));

        component.bindCache(two, Map.of(CacheDevice.NAME, "two"));
        component.bindCache(twin, Map.of(CacheDevice.NAME, "one")); // name taken: waits
        assertEquals(List.of("one", "two"), listExports(socket));

        component.unbindCache(one, Map.of(CacheDevice.NAME, "one"));
        assertEquals(1, m1.flushes.get(), "a withdrawn cache is flushed once");
        assertEquals(List.of("two", "one"), listExports(socket), "the waiting twin takes over the name");
        assertEquals(2 << 20, component.server().find("one").device.sizeBytes());

        component.deactivate();
        assertNull(component.server());
        assertTrue(Files.notExists(socket));
    }

    @Test
    void aBadListenAddressFailsActivationWithAClearMessage() {
        NbdExportComponent component = new NbdExportComponent();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> activate(component, Map.of("listen", "localhost")));
        assertTrue(e.getMessage().contains("listen=localhost: expected HOST:PORT"), e.getMessage());
        assertNull(component.server());
    }

    /** Values given as strings (Karaf's etc/*.cfg) that SCR could not read are refused, naming the key. */
    @Test
    void aStringThatIsNoNumberFailsActivationNamingTheKey() {
        NbdExportComponent component = new NbdExportComponent();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> component.activate(config(Map.of()), Map.of("listen", "unix:" + dir.resolve("s"),
                        "max_connections", "100 ", "workers", "2", "insecure_allow_cleartext_network", "false ")));
        assertTrue(e.getMessage().contains("max_connections = '100 ': not a whole number")
                && !e.getMessage().contains("workers") && !e.getMessage().contains("insecure"),
                "the export's own keys are read by its own rules: " + e.getMessage());
        assertNull(component.server());
    }

    @Test
    void configurationReachesTheServer() throws Exception {
        Map<String, Object> values = new HashMap<>();
        values.put("listen", "127.0.0.1:0,unix:" + dir.resolve("s"));
        values.put("max_connections", 3);
        values.put("max_inflight_bytes_per_connection", 1L << 20);
        values.put("workers", 3);
        values.put("inline_max_bytes", 4096);
        values.put("read_views", "on");
        NbdExportComponent component = new NbdExportComponent();
        activate(component, values);
        try {
            NbdServer server = component.server();
            assertEquals(NbdServerConfig.ReadViews.ON, server.config.readViews());
            assertEquals(2, server.boundAddresses().size());
            assertEquals(3, server.config.maxConnections());
            assertEquals(1L << 20, server.config.maxInflightBytesPerConnection());
            assertEquals(3, server.config.workers());
            assertEquals(4096, server.config.inlineMaxBytes());
        } finally {
            component.deactivate();
        }
    }

    @Test
    void unexportWithdrawsUntilExportEvenWhenTheCacheComesBack() throws Exception {
        Path socket = dir.resolve("nbd.sock");
        NbdExportComponent component = new NbdExportComponent();
        MemoryBlockDevice m1 = new MemoryBlockDevice("one", 1 << 20);
        CacheDevice one = cache("one", m1);
        CacheDevice two = cache("two", new MemoryBlockDevice("two", 2 << 20));
        activate(component, Map.of("listen", "unix:" + socket, "workers", 2));
        try {
            component.bindCache(one, Map.of(CacheDevice.NAME, "one"));
            component.bindCache(two, Map.of(CacheDevice.NAME, "two"));
            NbdExports exports = component;
            assertEquals(List.of("unix:" + socket), exports.listenAddresses());

            try (RawNbdClient client = RawNbdClient.open(UnixDomainSocketAddress.of(socket), "one", false)) {
                client.request(0, NbdCommand.WRITE.type, 1, 0, 512, new byte[512]);
                assertEquals(0, client.errorOf(1));
                NbdExports.ExportInfo info = exports.exports().get(0);
                assertEquals(new NbdExports.ExportInfo("one", 1 << 20, true, 1, 1, 0, 512, 0), info);

                exports.unexport("one");
                assertTrue(client.closedByServer(), "the connected client is told to go");
            }
            assertEquals(1, m1.flushes.get(), "a withdrawn cache is flushed once");
            assertEquals(List.of("two"), listExports(socket));
            assertEquals(List.of(new NbdExports.ExportInfo("one", 1 << 20, false, 0, 0, 0, 0, 0),
                    new NbdExports.ExportInfo("two", 2 << 20, true, 0, 0, 0, 0, 0)), exports.exports());
            exports.unexport("one"); // already withdrawn: nothing to do, no error

            // the cache service goes away and comes back (re-configured): it stays withdrawn
            component.unbindCache(one, Map.of(CacheDevice.NAME, "one"));
            component.bindCache(one, Map.of(CacheDevice.NAME, "one"));
            assertEquals(List.of("two"), listExports(socket));
            assertFalse(exports.exports().get(0).exported());

            exports.export("one");
            assertEquals(List.of("two", "one"), listExports(socket));
            try (RawNbdClient client = RawNbdClient.open(UnixDomainSocketAddress.of(socket), "one", false)) {
                client.request(0, NbdCommand.READ.type, 2, 0, 512, null);
                assertEquals(0, client.readReply(512).error());
            }
            exports.export("one"); // already exported: nothing to do

            // a cache that was not withdrawn by hand is exported again when it comes back
            component.unbindCache(two, Map.of(CacheDevice.NAME, "two"));
            assertEquals(List.of("one"), listExports(socket));
            component.bindCache(two, Map.of(CacheDevice.NAME, "two"));
            assertEquals(List.of("one", "two"), listExports(socket));
        } finally {
            component.deactivate();
        }
    }

    @Test
    void unknownNamesAreErrorsNamingThem() throws Exception {
        NbdExportComponent component = new NbdExportComponent();
        activate(component, Map.of("listen", "unix:" + dir.resolve("s"), "workers", 2));
        try {
            component.bindCache(cache("disk", new MemoryBlockDevice("disk", 1 << 20)), Map.of(CacheDevice.NAME, "disk"));
            IOException e = assertThrows(IOException.class, () -> component.unexport("nope"));
            assertEquals("no export named 'nope'; caches: disk", e.getMessage());
            e = assertThrows(IOException.class, () -> component.export("nope"));
            assertEquals("no cache device named 'nope' is registered; caches: disk", e.getMessage());
        } finally {
            component.deactivate();
        }
    }

    @Test
    void aWithdrawnNameIsNotTakenOverByATwin() throws Exception {
        Path socket = dir.resolve("nbd.sock");
        NbdExportComponent component = new NbdExportComponent();
        CacheDevice one = cache("one", new MemoryBlockDevice("one", 1 << 20));
        CacheDevice twin = cache("one", new MemoryBlockDevice("twin", 2 << 20));
        activate(component, Map.of("listen", "unix:" + socket, "workers", 2));
        try {
            component.bindCache(one, Map.of(CacheDevice.NAME, "one"));
            component.bindCache(twin, Map.of(CacheDevice.NAME, "one"));
            component.unexport("one");
            component.unbindCache(one, Map.of(CacheDevice.NAME, "one"));
            assertEquals(List.of(), listExports(socket));
            component.export("one");
            assertEquals(List.of("one"), listExports(socket));
            assertEquals(2 << 20, component.server().find("one").device.sizeBytes());
        } finally {
            component.deactivate();
        }
    }

    @Test
    void anUnknownReadViewsValueIsRefusedSayingWhatIsAllowed() {
        Map<String, Object> values = new HashMap<>();
        values.put("listen", "127.0.0.1:0");
        values.put("read_views", "sometimes");
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> activate(new NbdExportComponent(), values));
        assertTrue(e.getMessage().contains("read_views=sometimes: expected auto, on or off"), e.getMessage());
    }

    /** Keeps the Method import honest: the config annotation has exactly the documented attributes. */
    @Test
    void configurationAttributesAreTheDocumentedOnes() {
        List<String> names = new ArrayList<>();
        for (Method m : NbdExportComponent.Config.class.getDeclaredMethods()) {
            names.add(m.getName().replace("__", "_"));
        }
        names.sort(null);
        assertEquals(List.of("drain_timeout_seconds", "inline_max_bytes", "insecure_allow_cleartext_network", "listen",
                "max_connections", "max_inflight_bytes_per_connection", "payload_stall_timeout_seconds", "read_views",
                "tls", "tls_certificates",
                "tls_psk_file", "tls_verify_peer", "workers"), names);
        assertTrue(names.containsAll(ExportProperties.ALL), "every property of the contract is an attribute");
    }

    /** A TlsProvider whose server endpoint is {@link FakeTls}, or that refuses the credentials. */
    private static TlsProvider provider(String refusal) {
        return new TlsProvider() {
            @Override
            public TlsEndpoint server(TlsSettings settings) throws TlsConfigurationException {
                if (refusal != null) {
                    throw new TlsConfigurationException(refusal);
                }
                return new FakeTls();
            }

            @Override
            public TlsEndpoint client(TlsSettings settings) {
                throw new UnsupportedOperationException();
            }
        };
    }

    @Test
    void tlsIsConfiguredOnceWithTheProvidersEndpoint() throws Exception {
        NbdExportComponent component = new NbdExportComponent();
        component.tlsProvider = provider(null);
        activate(component, Map.of("listen", "127.0.0.1:0", "tls", "require", "tls_psk_file", dir.resolve("k").toString(),
                "workers", 2));
        try {
            assertEquals(new NbdExports.TlsInfo("require", "fake TLS for tests", 0), component.tls());
            assertTrue(component.server().tls.required());
        } finally {
            component.deactivate();
        }
    }

    @Test
    void tlsConfigurationProblemsLeaveTheComponentInactiveWithTheReason() throws IOException {
        NbdExportComponent component = new NbdExportComponent();
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> activate(component, Map.of("listen", "0.0.0.0:0")));
        assertTrue(refused.getMessage().contains("listen=0.0.0.0:0 is reachable from other machines but tls=off"),
                refused.getMessage());
        refused = assertThrows(IllegalArgumentException.class,
                () -> activate(component, Map.of("tls", "on", "tls_certificates", "a", "tls_psk_file", "b")));
        assertTrue(refused.getMessage().contains("tls_certificates and tls_psk_file are both set"), refused.getMessage());

        Map<String, Object> require = Map.of("listen", "127.0.0.1:0", "tls", "require",
                "tls_certificates", dir.toString());
        IllegalStateException noProvider = assertThrows(IllegalStateException.class, () -> activate(component, require));
        assertTrue(noProvider.getMessage().contains("needs a TlsProvider service (bundle pcache.tls)"),
                noProvider.getMessage());

        component.tlsProvider = provider("cannot read " + dir.resolve("server-key.pem") + ": no such file");
        IOException unusable = assertThrows(IOException.class, () -> activate(component, require));
        assertTrue(unusable.getMessage().contains(dir.resolve("server-key.pem").toString()), unusable.getMessage());
        assertNull(component.server());

        activate(component, Map.of("listen", "0.0.0.0:0", "insecure_allow_cleartext_network", true, "workers", 2));
        try {
            assertEquals(new NbdExports.TlsInfo("off", "", 0), component.tls());
        } finally {
            component.deactivate();
        }
    }
}
