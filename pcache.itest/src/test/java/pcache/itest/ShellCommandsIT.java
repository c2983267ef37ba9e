package pcache.itest;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import javax.management.ObjectName;

import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.cm.ConfigurationAdmin;

import pcache.api.BackingState;
import pcache.api.CacheDevice;
import pcache.api.CacheMode;
import pcache.api.NbdExports;
import pcache.api.spi.WritebackContext;
import pcache.api.spi.WritebackOutcome;
import pcache.api.spi.WritebackPolicy;

/**
 * The {@code pcache:} commands in the assembled distribution: caches created, driven, re-wired
 * and removed through the shell (ConfigAdmin underneath), with real files, a real NBD client and
 * the offline image tool.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class ShellCommandsIT extends PcacheTestSupport {

    private static final int MIB = 1 << 20;
    private static final long BACKING = 16L * MIB;

    private Path socketDir;
    private Path socket;

    /** The NBD export on a unix socket of our own (no TCP port to collide on). */
    @Before
    public void exportOnAUnixSocket() throws Exception {
        socketDir = Files.createTempDirectory("pcache-it");
        socket = socketDir.resolve("nbd.sock");
        configure("pcache.export.nbd", Map.of("listen", "unix:" + socket));
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (!awaitService(NbdExports.class, null).listenAddresses().contains("unix:" + socket)) {
            assertTrue("the NBD export did not move to " + socket, System.nanoTime() < deadline);
            Thread.sleep(50);
        }
    }

    @After
    public void removeSocketDirectory() throws IOException {
        deleteTree(socketDir);
    }

    private static void deleteTree(Path dir) throws IOException {
        if (dir != null && Files.exists(dir)) {
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    private Path freshWorkDirectory(String name) throws IOException {
        Path dir = workDirectory(name);
        deleteTree(dir);
        Files.createDirectories(dir);
        return dir;
    }

    /** Output and failure of a command that is expected to fail. */
    private record Failure(String output, Exception error) {
    }

    private Failure executeFailing(String commandLine) throws Exception {
        CommandProcessor processor = awaitService(CommandProcessor.class, null);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        try (CommandSession session = processor.createSession(new ByteArrayInputStream(new byte[0]), out, out)) {
            Object result = session.execute(commandLine);
            fail(commandLine + " should have failed but gave: " + result + "\n" + bytes.toString(StandardCharsets.UTF_8));
            return null;
        } catch (Exception e) {
            return new Failure(bytes.toString(StandardCharsets.UTF_8), e);
        }
    }

    private CacheDevice cache(String name) throws Exception {
        return awaitService(CacheDevice.class, "(" + CacheDevice.NAME + "=" + name + ")");
    }

    private static ByteBuffer pattern(int length, long seed) {
        ByteBuffer b = ByteBuffer.allocate(length);
        for (int i = 0; i < length; i += 8) {
            b.putLong(i, seed * 0x9E3779B97F4A7C15L + i);
        }
        return b;
    }

    private static byte[] read(CacheDevice dev, long offset, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        dev.read(offset, b);
        return b.array();
    }

    private static byte[] readFile(Path file, long offset, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ch.read(b, offset);
        }
        return b.array();
    }

    private void awaitGone(String name) throws Exception {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (context.getServiceReferences(CacheDevice.class, "(" + CacheDevice.NAME + "=" + name + ")").size() > 0) {
            assertTrue("cache " + name + " is still registered", System.nanoTime() < deadline);
            Thread.sleep(50);
        }
    }

    /**
     * Waits until the NBD export serves cache {@code name}: the export binds a new cache while the
     * framework delivers its REGISTERED event, which may come after this thread sees the service.
     */
    private void awaitExported(String name) throws Exception {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (awaitService(NbdExports.class, null).exports().stream()
                .noneMatch(e -> e.name().equals(name) && e.exported())) {
            assertTrue("cache " + name + " is not exported " + TIMEOUT + " after it opened", System.nanoTime() < deadline);
            Thread.sleep(20);
        }
    }

    /**
     * The backing device disappears (its configuration is deleted): the cache keeps absorbing writes.
     * Returns once the cache has seen it go (ConfigAdmin and SCR unbind it on their own threads), so
     * that write-back cannot still empty the cache the test is about to make dirty.
     */
    private void deleteBackingConfiguration(String cacheName) throws Exception {
        String backingName = cacheName + ".backing";
        ConfigurationAdmin admin = configurationAdmin();
        org.osgi.service.cm.Configuration[] found = admin.listConfigurations("(name=" + backingName + ")");
        assertNotNull("no configuration " + backingName, found);
        for (org.osgi.service.cm.Configuration c : found) {
            c.delete();
        }
        CacheDevice dev = cache(cacheName);
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (dev.status().backingState() != BackingState.UNAVAILABLE) {
            assertTrue("cache " + cacheName + " still has a backing device " + TIMEOUT + " after its configuration"
                    + " was deleted: " + dev.status().backingState(), System.nanoTime() < deadline);
            Thread.sleep(20);
        }
    }

    /**
     * Runs a command that waits for the backing device and returns what it printed; brings the
     * device back (re-creates its configuration) only once the command has printed {@code marker},
     * so what the command reports does not depend on how fast this thread reaches it.
     */
    private String executeRestoringWhenPrinted(String commandLine, String marker, String factoryPid,
            Map<String, Object> backingConfig) throws Exception {
        CommandProcessor processor = awaitService(CommandProcessor.class, null);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        CompletableFuture<Void> restored = CompletableFuture.runAsync(() -> {
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            try {
                while (!bytes.toString(StandardCharsets.UTF_8).contains(marker)) {
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException(commandLine + " did not print '" + marker + "' within " + TIMEOUT
                                + "; it printed: " + bytes.toString(StandardCharsets.UTF_8));
                    }
                    Thread.sleep(10);
                }
                configure(factoryPid, (String) backingConfig.get("name"), backingConfig);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        try (CommandSession session = processor.createSession(new ByteArrayInputStream(new byte[0]), out, out)) {
            Object result = session.execute(commandLine);
            if (result != null) {
                out.println(session.format(result, 0));
            }
        } finally {
            restored.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    public void aCacheLivesThroughTheShell() throws Exception {
        Path dir = freshWorkDirectory("life");
        Path cacheDev = dir.resolve("it1.cache");
        Path backing = dir.resolve("it1.img");
        String created = execute("pcache:create it1 cache_dev=" + cacheDev + " cache_dev_size=512M backing=file:"
                + backing + " backing_size=16M gc_percent=60");
        assertTrue(created, created.startsWith("cache it1 created and open: 16 MiB, backing file:"
                + backing.toRealPath() + ", cache device " + cacheDev + " (mapped"));
        CacheDevice dev = cache("it1");
        // the MBean component binds the new cache while the framework delivers its REGISTERED event,
        // which may come after this thread already sees the service
        ObjectName mbean = new ObjectName("pcache:type=Cache,name=it1");
        long mbeanDeadline = System.nanoTime() + TIMEOUT.toNanos();
        while (!ManagementFactory.getPlatformMBeanServer().isRegistered(mbean)) {
            assertTrue("no MBean " + mbean + " " + TIMEOUT + " after the cache opened", System.nanoTime() < mbeanDeadline);
            Thread.sleep(10);
        }
        awaitExported("it1");

        ByteBuffer first = pattern(MIB, 1);
        dev.write(0, first.duplicate(), false);
        assertArrayEquals(first.array(), read(dev, 0, MIB));
        assertTrue(execute("pcache:flush it1").startsWith("cache it1 flushed"));

        // status --raw is exactly dm-pcache's nine fields (polled: write-back moves dirty_tail meanwhile)
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        String raw;
        while (!(raw = execute("pcache:status --raw it1").trim()).equals(dev.status().dmStatusLine())) {
            assertTrue(raw + " vs " + dev.status().dmStatusLine(), System.nanoTime() < deadline);
            Thread.sleep(100);
        }
        assertTrue(raw, raw.matches("0 31 31 \\d+ 60 [0-9a-f]+ \\d+:\\d+ \\d+:\\d+ \\d+:\\d+"));
        String status = execute("pcache:status it1");
        assertTrue(status, status.startsWith("cache it1\n  mode          writeback\n"));
        assertTrue(status, status.contains("  backing       file:" + backing.toRealPath() + " (online)\n"));
        assertTrue(status, status.contains("  nbd export    exported, 0 connection(s)\n"));
        assertTrue(status, status.contains("    gc_percent  60\n"));
        String stats = execute("pcache:stats it1");
        assertTrue(stats, stats.contains("  hit ratio    100.0 % of requests, 100.0 % of bytes\n"));
        assertTrue(stats, stats.contains("  writes       1 requests (0 FUA, 0 received straight into the cache), 1048576 bytes (1 MiB)\n"));

        assertEquals("cache it1: gc_percent 60 -> 50\n", execute("pcache:gc-percent it1 50"));
        assertEquals(50, dev.gcPercent());
        Failure bad = executeFailing("pcache:gc-percent it1 95");
        assertTrue(bad.error().getMessage(), bad.error().getMessage().startsWith("gc_percent=95: expected an integer"));
        assertEquals("cache it1: mode writeback -> writethrough\n", execute("pcache:mode it1 writethrough"));
        assertEquals(CacheMode.WRITETHROUGH, dev.mode());
        execute("pcache:mode it1 writeback");

        execute("pcache:drain it1");

        // the backing device goes away: writes go on into the cache, which is now dirty
        deleteBackingConfiguration("it1");
        ByteBuffer second = pattern(2 * MIB, 2);
        dev.write(4L * MIB, second.duplicate(), false);
        dev.flush();
        Failure refused = executeFailing("pcache:remove it1");
        assertTrue(refused.error().getMessage(), refused.error().getMessage().startsWith(
                "cache 'it1' holds 2097152 bytes (2 MiB) not yet written back"));
        assertTrue(execute("pcache:list").contains("it1"));

        // it comes back while drain waits for it; drain shows its progress, then the cache is clean
        Map<String, Object> backingConfig = Map.of("name", "it1.backing", "path", backing.toString(), "size_bytes",
                BACKING, "create", true);
        String drained = executeRestoringWhenPrinted("pcache:drain it1", "to write back [", "pcache.backing.file",
                backingConfig);
        assertTrue(drained, drained.startsWith("2 MiB to write back [########################################] 100%\n"
                + "cache it1 drained in "));
        assertTrue(drained, drained.endsWith("; clean\n"));
        assertArrayEquals(second.array(), readFile(backing, 4L * MIB, 2 * MIB));

        // dirty again, without a backing device; remove --drain writes it back once the device is back
        deleteBackingConfiguration("it1");
        ByteBuffer third = pattern(MIB, 3);
        dev.write(8L * MIB, third.duplicate(), false);
        String removed = executeRestoringWhenPrinted("pcache:remove --drain it1", "to write back [",
                "pcache.backing.file", backingConfig);
        assertTrue(removed, removed.startsWith("1 MiB to write back [####"));
        assertTrue(removed, removed.contains("] 100%\ncache it1 removed (drained, then passthrough); configurations"
                + " pcache.target~it1, pcache.backing.file~it1.backing deleted"));
        awaitGone("it1");
        assertArrayEquals(third.array(), readFile(backing, 8L * MIB, MIB));
        // the framework drops the service from its registry before it tells the MBean component
        // (UNREGISTERING), so the MBean goes just after the service: wait for it, bounded
        ObjectName goneMBean = new ObjectName("pcache:type=Cache,name=it1");
        long goneDeadline = System.nanoTime() + TIMEOUT.toNanos();
        while (ManagementFactory.getPlatformMBeanServer().isRegistered(goneMBean)) {
            assertTrue("MBean " + goneMBean + " still registered " + TIMEOUT + " after its cache was removed",
                    System.nanoTime() < goneDeadline);
            Thread.sleep(10);
        }

        // the closed cache device, offline
        String inspected = execute("pcache:inspect " + cacheDev);
        assertTrue(inspected, inspected.contains("superblock at 4096: magic ok, crc ok"));
        assertTrue(inspected, inspected.contains("  backing identity: file:" + backing.toRealPath()));
        assertTrue(inspected, inspected.contains("end of log at "));
        assertTrue(inspected, inspected.contains("problems: none"));
        String fsck = execute("pcache:fsck " + cacheDev);
        assertTrue(fsck, fsck.startsWith("fsck of " + cacheDev + ": ok\n"));
        assertTrue(fsck, fsck.contains("dirty: 0 bytes"));
        flipByte(cacheDev, 4096 + 20); // the superblock's padding: only its CRC notices
        Failure damaged = executeFailing("pcache:fsck " + cacheDev);
        assertEquals("fsck found 1 error(s) in " + cacheDev, damaged.error().getMessage());
        assertTrue(damaged.output(), damaged.output().contains("  - superblock at 4096: CRC mismatch"));
    }

    private static void flipByte(Path file, long offset) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, offset);
            b.put(0, (byte) (b.get(0) ^ 0x40)).rewind();
            ch.write(b, offset);
        }
    }

    /**
     * A write-back policy from a bundle the engine and the shell have never heard of (this test's
     * own): pcache:list shows it and pcache:create selects it by the name its service registers,
     * with no list to edit anywhere; the cache's write-back then runs through it.
     */
    @Test
    public void aPolicyNoListNamesIsListedSelectedAndUsed() throws Exception {
        WritebackPolicy ordered = awaitService(WritebackPolicy.class, "(" + WritebackPolicy.NAME + "=ordered)");
        AtomicInteger steps = new AtomicInteger();
        WritebackPolicy counting = new WritebackPolicy() {
            @Override
            public String name() {
                return "counting";
            }

            @Override
            public WritebackOutcome step(WritebackContext context) throws IOException, InterruptedException {
                steps.incrementAndGet();
                return ordered.step(context);
            }
        };
        ServiceRegistration<WritebackPolicy> registration = context.registerService(WritebackPolicy.class, counting,
                new Hashtable<>(Map.of(WritebackPolicy.NAME, "counting")));
        try {
            String list = execute("pcache:list");
            assertTrue(list, list.contains("write-back policies: batching, counting, ordered\n"));
            Path dir = freshWorkDirectory("policy");
            Path backing = dir.resolve("disk.img");
            Failure unknown = executeFailing("pcache:create it4 cache_dev=" + dir.resolve("it4.cache")
                    + " cache_dev_size=512M backing=file:" + backing + " backing_size=16M policy=lazy");
            assertTrue(unknown.error().getMessage(), unknown.error().getMessage().contains(
                    "policy=lazy: no write-back policy named 'lazy' is registered; registered: batching, counting,"
                    + " ordered"));
            execute("pcache:create it4 cache_dev=" + dir.resolve("it4.cache") + " cache_dev_size=512M backing=file:"
                    + backing + " backing_size=16M policy=counting");
            CacheDevice dev = cache("it4");
            ByteBuffer data = pattern(MIB, 31);
            dev.write(2L * MIB, data.duplicate(), false);
            execute("pcache:drain it4");
            assertTrue("write-back ran through the policy: " + steps.get() + " steps", steps.get() > 0);
            assertArrayEquals(data.array(), readFile(backing, 2L * MIB, MIB));
            execute("pcache:remove it4");
            awaitGone("it4");
        } finally {
            registration.unregister();
        }
    }

    @Test
    public void swapBackingToACopyOfTheDisk() throws Exception {
        Path dir = freshWorkDirectory("swap");
        Path original = dir.resolve("disk-a.img");
        Path copy = dir.resolve("disk-b.img");
        execute("pcache:create it2 cache_dev=" + dir.resolve("it2.cache") + " cache_dev_size=512M backing=file:"
                + original + " backing_size=16M identity=it2-disk");
        CacheDevice dev = cache("it2");
        ByteBuffer first = pattern(MIB, 11);
        dev.write(MIB, first.duplicate(), false);
        execute("pcache:drain it2");

        // what a user does: copy the (clean) disk, then move the cache onto the copy; the identity
        // label given at creation says both hold the same data
        Files.copy(original, copy);
        ByteBuffer marker = pattern(4096, 12);
        try (FileChannel ch = FileChannel.open(copy, StandardOpenOption.WRITE)) {
            ch.write(marker.duplicate(), 12L * MIB); // only on the copy, never cached
        }
        String swapped = execute("pcache:swap-backing it2 file:" + copy);
        assertTrue(swapped, swapped.startsWith("cache it2: backing device file:" + original.toRealPath() + " -> file:"
                + copy.toRealPath() + " (online); configuration it2.backing-2 replaces it2.backing. If a launcher"
                + " configuration file defines this cache, set its cache.it2.backing_dev=file:"));
        assertTrue(execute("pcache:status it2").contains("  backing       file:" + copy.toRealPath() + " (online)\n"));

        assertArrayEquals("cached data survives the swap", first.array(), read(dev, MIB, MIB));
        assertArrayEquals("misses come from the new device", marker.array(), read(dev, 12L * MIB, 4096));
        ByteBuffer second = pattern(MIB, 13);
        dev.write(6L * MIB, second.duplicate(), false);
        execute("pcache:drain it2");
        assertArrayEquals(second.array(), readFile(copy, 6L * MIB, MIB));
        assertArrayEquals("the old device is left alone", new byte[MIB], readFile(original, 6L * MIB, MIB));

        Failure refused = executeFailing("pcache:swap-backing it2 file:" + dir.resolve("missing.img"));
        assertTrue(refused.error().getMessage(), refused.error().getMessage().endsWith("does not exist; a cache can"
                + " only move to a device holding the same data (a copy of the current one)"));
        assertTrue(execute("pcache:remove it2").startsWith("cache it2 removed (clean, passthrough)"));
        awaitGone("it2");
    }

    @Test
    public void unexportDisconnectsAClientAndExportBringsItBack() throws Exception {
        Path dir = freshWorkDirectory("nbd");
        execute("pcache:create it3 cache_dev=" + dir.resolve("it3.cache") + " cache_dev_size=512M backing=file:"
                + dir.resolve("it3.img") + " backing_size=16M");
        CacheDevice dev = cache("it3");
        ByteBuffer data = pattern(4096, 21);
        dev.write(0, data.duplicate(), false);

        awaitExported("it3");
        ExecutorService reader = Executors.newSingleThreadExecutor();
        try (NbdClient client = NbdClient.open(socket, "it3")) {
            assertArrayEquals(data.array(), client.read(0, 4096));
            assertTrue(execute("pcache:status it3").contains("  nbd export    exported, 1 connection(s)\n"));

            assertEquals("cache it3 withdrawn from NBD (its clients were disconnected); pcache:export it3 exports it"
                    + " again\n", execute("pcache:unexport it3"));
            Future<Integer> eof = reader.submit(client::readToEnd);
            assertEquals("the client is disconnected", Integer.valueOf(-1), eof.get(10, TimeUnit.SECONDS));
        } finally {
            reader.shutdownNow();
        }
        assertTrue(execute("pcache:status it3").contains("  nbd export    withdrawn (pcache:export it3"));
        try {
            NbdClient.open(socket, "it3").close();
            fail("a withdrawn export accepts no client");
        } catch (IOException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().contains("refused"));
        }

        String exported = execute("pcache:export it3");
        assertEquals("cache it3 exported over NBD: nbd+unix:///it3?socket=" + socket + "\n", exported);
        try (NbdClient client = NbdClient.open(socket, "it3")) {
            assertArrayEquals(data.array(), client.read(0, 4096));
        }
        Path nbdinfo = Path.of("/usr/bin/nbdinfo");
        if (Files.isExecutable(nbdinfo)) {
            Process p = new ProcessBuilder(nbdinfo.toString(), "--size", "nbd+unix:///it3?socket=" + socket)
                    .redirectErrorStream(true).start();
            assertTrue("nbdinfo hangs", p.waitFor(20, TimeUnit.SECONDS));
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            assertEquals(out, 0, p.exitValue());
            assertEquals(Long.toString(BACKING), out);
        }
        execute("pcache:remove --drain it3");
        awaitGone("it3");
    }

    @Test
    public void commandsSayWhatIsWrong() throws Exception {
        Failure f = executeFailing("pcache:status nope");
        assertTrue(f.error().getMessage(), f.error().getMessage().startsWith("no open cache named 'nope'; caches: "));
        f = executeFailing("pcache:create x cache_dev=/tmp/x backing=ftp://y");
        assertTrue(f.error().getMessage(), f.error().getMessage().contains("backing=ftp://y: expected file:PATH,"));
        f = executeFailing("pcache:mode");
        assertTrue(f.error().getMessage(), f.error().getMessage().startsWith("pcache:mode takes 2 argument(s), got none"));
        assertTrue(execute("pcache:swap-backing -h").startsWith("usage: pcache:swap-backing [-h] NAME"));
        assertTrue(execute("pcache:gc-percent --help").startsWith("usage: pcache:gc-percent [-h] NAME N"));
        List<String> functions = List.of("version", "list", "status", "stats", "create", "remove", "gc-percent", "flush",
                "drain", "mode", "swap-backing", "export", "unexport", "inspect", "fsck");
        for (String function : functions) {
            assertTrue(function, execute("pcache:" + function + " -h").startsWith("usage: pcache:" + function + " [-h]"));
        }
        ServiceReference<?>[] refs = context.getServiceReferences((String) null, "(osgi.command.scope=pcache)");
        assertNotNull(refs);
    }

    /** Just enough of an NBD client (fixed newstyle, NBD_OPT_GO, simple replies) to hold a connection. */
    static final class NbdClient implements AutoCloseable {
        private static final long NBDMAGIC = 0x4e42444d41474943L;
        private static final long IHAVEOPT = 0x49484156454F5054L;
        private static final long REPLY_MAGIC = 0x3e889045565a9L;
        private static final int OPT_GO = 7;
        private static final int REP_ACK = 1;

        private final SocketChannel channel;
        private final DataInputStream in;
        private final DataOutputStream out;
        private long cookie;

        private NbdClient(SocketChannel channel) {
            this.channel = channel;
            this.in = new DataInputStream(Channels.newInputStream(channel));
            this.out = new DataOutputStream(Channels.newOutputStream(channel));
        }

        static NbdClient open(Path socket, String export) throws IOException {
            NbdClient c = new NbdClient(SocketChannel.open(UnixDomainSocketAddress.of(socket)));
            try {
                c.handshake(export);
                return c;
            } catch (IOException | RuntimeException e) {
                c.close();
                throw e;
            }
        }

        private void handshake(String export) throws IOException {
            if (in.readLong() != NBDMAGIC || in.readLong() != IHAVEOPT) {
                throw new IOException("not a newstyle NBD server");
            }
            in.readShort();
            out.writeInt(1 | 2); // FIXED_NEWSTYLE, NO_ZEROES
            byte[] name = export.getBytes(StandardCharsets.UTF_8);
            out.writeLong(IHAVEOPT);
            out.writeInt(OPT_GO);
            out.writeInt(4 + name.length + 2);
            out.writeInt(name.length);
            out.write(name);
            out.writeShort(0);
            out.flush();
            while (true) {
                if (in.readLong() != REPLY_MAGIC) {
                    throw new IOException("bad option reply");
                }
                in.readInt();
                int type = in.readInt();
                byte[] data = new byte[in.readInt()];
                in.readFully(data);
                if (type == REP_ACK) {
                    return;
                }
                if (type < 0) {
                    throw new IOException("export " + export + " refused: reply type 0x" + Integer.toHexString(type));
                }
            }
        }

        byte[] read(long offset, int length) throws IOException {
            long c = ++cookie;
            out.writeInt(0x25609513);
            out.writeShort(0);
            out.writeShort(0); // READ
            out.writeLong(c);
            out.writeLong(offset);
            out.writeInt(length);
            out.flush();
            if (in.readInt() != 0x67446698) {
                throw new IOException("bad reply magic");
            }
            int error = in.readInt();
            if (in.readLong() != c || error != 0) {
                throw new IOException("read failed: error " + error);
            }
            byte[] data = new byte[length];
            in.readFully(data);
            return data;
        }

        /** Reads until the server closes the connection; -1 then. */
        int readToEnd() throws IOException {
            while (in.read() >= 0) {
                // nothing is expected before the end
            }
            return -1;
        }

        @Override
        public void close() throws IOException {
            channel.close();
        }
    }
}
