package pcache.karaf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;

import pcache.testkit.ExternalTools;
import pcache.testkit.LoopbackPorts;

/**
 * pcache's Karaf feature in a real Apache Karaf (the pinned distribution from Maven Central): the
 * feature repository this module builds is added by its Maven coordinates, {@code feature:install
 * --no-auto-refresh pcache} brings the bundles (with Karaf's own SCR), a cache is configured the Karaf way (cfg files
 * in {@code etc/}, which Karaf's FileInstall turns into ConfigAdmin configurations), and then:
 * <ul>
 * <li>the {@code pcache:*} commands answer in Karaf's console over SSH ({@code bin/client});</li>
 * <li>qemu-io writes a pattern through the NBD export and reads it back;</li>
 * <li>{@code pcache:swap-backing} moves the cache to a copy of its backing file;</li>
 * <li>{@code feature:uninstall pcache} closes the cache (export gone, cache device unlocked) with
 * data still dirty (the batching write-back policy holds it), and after {@code feature:install
 * pcache} again qemu-io reads every pattern back: nothing acknowledged was lost;</li>
 * <li>{@code feature:install pcache-tls} brings the TLS provider.</li>
 * </ul>
 * A cache device's lock is {@code DEVICE.lock} next to it ({@code PcacheTargetComponent}).
 */
class KarafFeatureIT {

    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final long MIB = 1 << 20;

    @Test
    void featureInstallsServesSwapsAndUninstallsCleanly() throws Exception {
        ExternalTools.require("qemu-io", "tar");
        // each run leaves about 0.5 GB (Karaf, a 512 MiB cache device): keep only a failed one
        Path runs = Path.of(property("pcache.karaf.work"));
        deleteTree(runs);
        Path work = runs.resolve("run-" + System.currentTimeMillis());
        Path dev = Files.createDirectories(work.resolve("dev"));
        Path cacheDev = dev.resolve("demo.cache");
        Path backing = dev.resolve("demo.backing");
        Path backing2 = dev.resolve("demo2.backing");
        int nbdPort = LoopbackPorts.free();
        String uri;
        ExportPorts givenUp = new ExportPorts(); // NBD ports found taken, and where the log stood

        assertReactorBundles();
        try (KarafProcess karaf = KarafProcess.unpack(Path.of(property("pcache.karaf.distribution")),
                property("pcache.karaf.version"), work, List.of(Path.of(property("pcache.karaf.repo"))),
                Path.of(property("pcache.karaf.localRepository")))) {
            // the feature repository under its Maven coordinates, next to the reactor's bundles
            String version = property("pcache.version");
            Path features = Path.of(property("pcache.karaf.repo"), "pcache", "pcache.karaf", version,
                    "pcache.karaf-" + version + "-features.xml");
            Files.createDirectories(features.getParent());
            Files.copy(Path.of(property("pcache.karaf.feature")), features,
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);

            // the cache, the Karaf way: configuration files in etc/ (README.md, "Karaf")
            Files.writeString(karaf.etc().resolve("pcache.export.nbd.cfg"), "listen = 127.0.0.1:" + nbdPort + "\n");
            Files.writeString(karaf.etc().resolve("pcache.backing.file-demo.backing.cfg"), "name = demo.backing\n"
                    + "path = " + backing + "\nsize_bytes = " + 64 * MIB + "\ncreate = true\nidentity = demo-disk\n");
            Files.writeString(karaf.etc().resolve("pcache.target-demo.cfg"), "name = demo\ncache_dev = " + cacheDev
                    + "\ncache_dev_size_bytes = " + 512 * MIB + "\nbacking.target = (pcache.backing.name=demo.backing)\n"
                    + "writeback.target = (pcache.writeback.policy=batching)\n");
            // batching writes back only above its high watermark or after max_age_ms: what is
            // written here stays dirty until pcache:drain, so the uninstall below has dirty data
            Files.writeString(karaf.etc().resolve("pcache.writeback.batching.cfg"),
                    "high_watermark_percent = 90\nmax_age_ms = 3600000\n");

            karaf.start();
            karaf.ok("feature:repo-add mvn:pcache/pcache.karaf/" + version + "/xml/features");
            // --no-auto-refresh: the feature brings JNA, which Karaf's console library (jline)
            // imports optionally; refreshed, jline restarts Karaf's shell under this very SSH
            // session, and once in a fresh clone's run Karaf's shell failed to stop
            // (NullPointerException in org.apache.karaf.shell.core) and never answered again
            int logFrom = karaf.logText().length();
            karaf.ok("feature:install --no-auto-refresh pcache");
            awaitCache(karaf);
            nbdPort = awaitExportPort(karaf, nbdPort, logFrom, givenUp);
            uri = "nbd://127.0.0.1:" + nbdPort + "/demo";

            // pcache's records reach Karaf's log through the OSGi Log Service, as entries of the
            // bundle that wrote them (karaf.log's pattern shows "BUNDLE-ID - SYMBOLIC-NAME - VERSION")
            assertTrue(karaf.ok("log:display").contains("cache demo open: "), karaf.diagnostics());
            assertTrue(karaf.logText().lines().anyMatch(l -> l.matches(".*\\| INFO  \\|.*\\| PcacheTargetComponent +"
                    + "\\| \\d+ - pcache\\.engine - [^|]+\\| cache demo open: .*")), karaf.diagnostics());
            // the commands answer in Karaf's own console, over SSH
            String versions = karaf.ok("pcache:version");
            assertTrue(versions.contains("org.apache.felix.framework"), versions);
            String list = karaf.ok("pcache:list");
            assertTrue(list.contains("demo.backing") && list.contains("write-back policies: batching, ordered"), list);

            // qemu-io through the export (its default cache mode sends FUA writes)
            qemuIo(work, uri, "write -P 0xa5 0 1M", "read -P 0xa5 0 1M");

            // swap-backing: drain, copy the backing file, move the cache to the copy
            assertTrue(karaf.ok("pcache:drain demo").contains("; clean"));
            assertPattern(backing, 0, MIB, (byte) 0xa5);
            Files.copy(backing, backing2);
            String swapped = karaf.ok("pcache:swap-backing demo file:" + backing2);
            assertTrue(swapped.contains("-> file:" + backing2 + " (online)"), swapped);
            assertTrue(karaf.ok("pcache:list").contains("demo.backing-2"));
            qemuIo(work, uri, "read -P 0xa5 0 1M");
            String status = writeUntilDirty(karaf, work, uri, "write -P 0x3c 2M 4M");
            assertTrue(status.contains(backing2.toString()), status);
            Path cacheLock = dev.resolve("demo.cache.lock"); // the cache's lock on its device
            assertNull(tryLock(cacheLock), "Karaf's pcache should hold the lock " + cacheLock);

            // uninstall with data dirty: the cache closes (export gone, device unlocked)
            karaf.ok("feature:uninstall --no-auto-refresh pcache");
            assertFalse(karaf.ok("bundle:list -t 0").contains("pcache"), "pcache bundles left after uninstall");
            awaitRefused(karaf, nbdPort);
            assertLockFree(karaf, cacheLock);
            String log = karaf.logText();
            assertTrue(log.contains("cache demo closed"), "no 'cache demo closed' in the log:\n" + karaf.diagnostics());

            // install again: the cache re-opens on the same configuration and serves what it held
            logFrom = karaf.logText().length();
            karaf.ok("feature:install --no-auto-refresh pcache");
            awaitCache(karaf);
            nbdPort = awaitExportPort(karaf, nbdPort, logFrom, givenUp);
            uri = "nbd://127.0.0.1:" + nbdPort + "/demo";
            qemuIo(work, uri, "read -P 0x3c 2M 4M", "read -P 0xa5 0 1M", "read -P 0 6M 1M");
            status = karaf.ok("pcache:status demo");
            assertTrue(status.contains("state         dirty: ") && status.contains(backing2.toString()), status);
            assertTrue(karaf.ok("pcache:drain demo").contains("; clean"));
            assertPattern(backing2, 2 * MIB, 4 * MIB, (byte) 0x3c);

            // the optional TLS feature resolves on top (Bouncy Castle from the repository) and
            // brings the TlsProvider the export and the NBD backing devices use. --no-auto-refresh:
            // Karaf's SSH server imports Bouncy Castle optionally; refreshed, it restarts under this
            // session, and the next command failed once with "Failed to get the session"
            karaf.ok("feature:install --no-auto-refresh pcache-tls");
            String tls = karaf.ok("service:list pcache.api.tls.TlsProvider");
            assertTrue(tls.contains("pcache.tls"), tls);

            assertNoPcacheErrors(karaf, givenUp);
        }
        deleteTree(work); // passed: nothing to look at
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    /**
     * The pcache bundles in the repository Karaf resolves from are this build's: built alone
     * ({@code -pl pcache.karaf} without {@code -am}), Maven copies whatever pcache SNAPSHOT the
     * local repository holds instead.
     */
    private static void assertReactorBundles() throws IOException {
        String version = property("pcache.version");
        Path root = Path.of(property("pcache.karaf.reactor"));
        try (var modules = Files.list(Path.of(property("pcache.karaf.repo"), "pcache"))) {
            for (Path module : modules.toList()) {
                String id = module.getFileName().toString();
                Path copied = module.resolve(version).resolve(id + "-" + version + ".jar");
                Path built = root.resolve(id).resolve("target").resolve(id + "-" + version + ".jar");
                if (Files.isRegularFile(copied) && Files.isRegularFile(built) && Files.mismatch(copied, built) != -1) {
                    fail(copied + " is not this build's " + built + ": build with the modules it needs,"
                            + " ./mvnw verify -pl pcache.karaf -am");
                }
            }
        }
    }

    private static String property(String key) {
        String value = System.getProperty(key);
        assertNotNull(value, "system property " + key + " is not set (run through Maven failsafe)");
        return value;
    }

    /** NBD ports found taken before pcache bound them, and how far Karaf's log went until another served. */
    private static final class ExportPorts {
        final List<Integer> givenUp = new java.util.ArrayList<>();
        /** Errors logged before this offset may belong to a port given up on; none after it. */
        int excuseUntil;
    }

    /**
     * Waits until pcache in Karaf serves NBD on {@code port}. The port was checked free, not
     * reserved: when pcache's log says it was taken before pcache bound it, others are configured
     * (etc/pcache.export.nbd.cfg, which Karaf's file install hands to the export) through
     * {@link LoopbackPorts#startOnFreePort}. Returns the port served.
     */
    private static int awaitExportPort(KarafProcess karaf, int port, int logFrom, ExportPorts ports)
            throws Exception {
        if (servedAt(karaf, port, logFrom) >= 0) {
            return port;
        }
        ports.givenUp.add(port);
        return LoopbackPorts.startOnFreePort(next -> {
            int from = karaf.logText().length();
            Files.writeString(karaf.etc().resolve("pcache.export.nbd.cfg"), "listen = 127.0.0.1:" + next + "\n");
            int at = servedAt(karaf, next, from);
            if (at < 0) {
                ports.givenUp.add(next);
                throw new LoopbackPorts.PortTakenException("pcache in Karaf cannot listen on 127.0.0.1:" + next);
            }
            ports.excuseUntil = at;
            return next;
        });
    }

    /**
     * Where in Karaf's log pcache says it listens on {@code port}, looking from {@code from} (a
     * greeting from the port could come from whatever else took it); -1 when it says it cannot.
     */
    private static int servedAt(KarafProcess karaf, int port, int from) throws InterruptedException {
        String listening = "NBD server listening on 127.0.0.1:" + port + " ";
        String taken = "cannot listen on 127.0.0.1:" + port + ":";
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            String log = karaf.logText().substring(from);
            if (log.contains(taken)) {
                return -1;
            }
            if (log.contains(listening)) {
                return from + log.indexOf(listening);
            }
            if (System.nanoTime() > deadline) {
                fail("no NBD export on 127.0.0.1:" + port + " " + WAIT.toSeconds() + " s after the cache opened\n"
                        + karaf.diagnostics());
            }
            Thread.sleep(200);
        }
    }

    /** Waits (bounded) until cache demo is open and its status answers in the console. */
    private static void awaitCache(KarafProcess karaf) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            KarafProcess.Answer a = karaf.console("pcache:status --raw demo");
            if (a.status() == 0 && a.output().trim().matches("0 \\d+ \\d+ .*")) {
                return;
            }
            if (System.nanoTime() > deadline) {
                fail("cache demo is not open " + WAIT.toSeconds() + " s after feature:install; last answer: "
                        + a.output() + "\n" + karaf.diagnostics());
            }
            Thread.sleep(500);
        }
    }

    /**
     * Writes with qemu-io until the cache reports data not yet written back, and returns its
     * status. Below its watermarks batching holds writes back, but now and then it writes one back
     * at once (seen for a write that arrives while the policy looks at an empty cache), so the
     * write is repeated, a bounded number of times, until the cache holds it dirty; once it does,
     * nothing more is written, and the policy leaves it there.
     */
    private static String writeUntilDirty(KarafProcess karaf, Path dir, String uri, String write) throws Exception {
        String status = "";
        for (int attempt = 0; attempt < 5; attempt++) {
            qemuIo(dir, uri, write);
            status = karaf.ok("pcache:status demo");
            if (status.contains("state         dirty: ")) {
                return status;
            }
        }
        fail("the cache wrote '" + write + "' back at once five times; batching should hold it back:\n" + status);
        return status;
    }

    /** Waits (bounded) until nothing listens on the NBD port any more. */
    private static void awaitRefused(KarafProcess karaf, int port) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
            } catch (IOException refused) {
                return;
            }
            if (System.nanoTime() > deadline) {
                fail("the NBD export still listens on " + port + " " + WAIT.toSeconds() + " s after feature:uninstall\n"
                        + karaf.diagnostics());
            }
            Thread.sleep(200);
        }
    }

    /** Waits (bounded) until the cache device's lock is free (the cache closed it). */
    private static void assertLockFree(KarafProcess karaf, Path lockFile) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            FileLock lock = tryLock(lockFile);
            if (lock != null) {
                lock.channel().close();
                return;
            }
            if (System.nanoTime() > deadline) {
                fail(lockFile + " is still locked " + WAIT.toSeconds()
                        + " s after feature:uninstall\n" + karaf.diagnostics());
            }
            Thread.sleep(200);
        }
    }

    /** A lock on the file from this JVM, or null while another process (Karaf) holds one. */
    private static FileLock tryLock(Path file) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        FileLock lock = ch.tryLock();
        if (lock == null) {
            ch.close();
        }
        return lock;
    }

    private static void qemuIo(Path dir, String uri, String... commands) throws Exception {
        String[] command = new String[3 + 2 * commands.length];
        command[0] = ExternalTools.which("qemu-io");
        command[1] = "-f";
        command[2] = "raw";
        for (int i = 0; i < commands.length; i++) {
            command[3 + 2 * i] = "-c";
            command[4 + 2 * i] = commands[i];
        }
        String[] withUri = Arrays.copyOf(command, command.length + 1);
        withUri[command.length] = uri;
        String out = KarafProcess.run(dir, Duration.ofSeconds(60), withUri);
        assertFalse(out.contains("Pattern verification failed"), out);
    }

    private static void assertPattern(Path file, long offset, long length, byte value) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            ByteBuffer buf = ByteBuffer.allocate((int) length);
            f.getChannel().read(buf, offset);
            byte[] bytes = buf.array();
            for (int i = 0; i < bytes.length; i++) {
                if (bytes[i] != value) {
                    assertEquals(value, bytes[i], file + ": byte " + (offset + i) + " differs");
                }
            }
        }
    }

    /**
     * No ERROR line of Karaf's log names a pcache bundle or logger, but those of an NBD port
     * taken before pcache bound it ({@link #awaitExportPort} configured another), logged before
     * the export served on the other: the export's failed activation and the framework's report
     * that the failed component gave no service.
     */
    private static void assertNoPcacheErrors(KarafProcess karaf, ExportPorts ports) {
        String text = karaf.logText();
        List<String> errors = new java.util.ArrayList<>();
        int at = 0;
        for (String l : text.split("\n", -1)) {
            int lineAt = at;
            at += l.length() + 1;
            if (!l.contains("| ERROR |") || !l.toLowerCase(java.util.Locale.ROOT).contains("pcache")) {
                continue;
            }
            int nextEnd = text.indexOf('\n', at);
            String next = at >= text.length() ? "" : text.substring(at, nextEnd < 0 ? text.length() : nextEnd);
            boolean ofAGivenUpPort = lineAt < ports.excuseUntil
                    && (ports.givenUp.stream().anyMatch(p -> next.contains("cannot listen on 127.0.0.1:" + p + ":"))
                    || next.contains("Service factory returned null. (Component: "
                            + "pcache.export.nbd.internal.NbdExportComponent"));
            if (ofAGivenUpPort) {
                System.err.println("KarafFeatureIT: an error of a port given up on: " + l + " / " + next);
            } else {
                errors.add(l);
            }
        }
        assertTrue(errors.isEmpty(), "errors in Karaf's log:\n" + String.join("\n", errors));
    }
}
