package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the packaged distribution ({@code target/pcache}) as a user would: {@code java -jar
 * pcache.launcher.jar ...} in a fresh working directory, on the embedded defaults (with the NBD
 * export moved to a unix socket).
 */
class DistributionIT {

    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final Path DISTRIBUTION =
            Path.of(System.getProperty("pcache.distribution", "target/pcache")).toAbsolutePath();

    @TempDir
    Path cwd;

    private record Run(int status, String out, String err) {
    }

    private Process start(String... args) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-XX:TieredStopAtLevel=1"); // quicker start-up; the tests measure nothing
        command.add("-jar");
        command.add(DISTRIBUTION.resolve("pcache.launcher.jar").toString());
        // embedded defaults, but NBD on a unix socket in the data directory: no TCP port to collide on
        command.add("-Dnbd.listen=unix:nbd.sock");
        command.addAll(Arrays.asList(args));
        ProcessBuilder pb = new ProcessBuilder(command).directory(cwd.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        pb.environment().keySet().removeIf(k -> k.startsWith(EnvironmentKeys.PREFIX));
        Path out = cwd.resolve("out-" + System.nanoTime() + ".txt");
        Path err = cwd.resolve("err-" + System.nanoTime() + ".txt");
        pb.redirectOutput(out.toFile()).redirectError(err.toFile());
        Process p = pb.start();
        outputs.put(p, new Path[] {out, err});
        return p;
    }

    private final java.util.Map<Process, Path[]> outputs = new java.util.HashMap<>();

    private Run await(Process p) throws Exception {
        if (!p.waitFor(TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail("launcher did not exit within " + TIMEOUT.toSeconds() + " s: " + Files.readString(outputs.get(p)[1]));
        }
        return new Run(p.exitValue(), Files.readString(outputs.get(p)[0]), Files.readString(outputs.get(p)[1]));
    }

    /**
     * Waits (at most {@link #TIMEOUT}) until the service {@code p} started in {@link #cwd} has its
     * control socket.
     *
     * @return the deadline of that wait ({@code System.nanoTime()}), for the waits after it
     */
    private long awaitControlSocket(Process p) throws Exception {
        Path socket = cwd.resolve("data/pcache.ctl");
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (!Files.exists(socket)) {
            assertTrue(p.isAlive(), "pcache died: " + Files.readString(outputs.get(p)[1]));
            assertTrue(System.nanoTime() < deadline, "no control socket after " + TIMEOUT.toSeconds() + " s");
            Thread.sleep(100);
        }
        return deadline;
    }

    /** Waits (bounded) until {@code p}, on the embedded defaults, has opened pcache0; the deadline. */
    private long awaitDefaultCacheOpen(Process p) throws Exception {
        long deadline = awaitControlSocket(p);
        Run list = run("ctl", "pcache:list");
        while (!list.out().contains("pcache0  4 GiB")) { // open once its new device is formatted
            assertTrue(System.nanoTime() < deadline, "pcache0 not open after " + TIMEOUT.toSeconds() + " s: "
                    + list.out() + list.err());
            Thread.sleep(200);
            list = run("ctl", "pcache:list");
        }
        return deadline;
    }

    private Run run(String... args) throws Exception {
        return await(start(args));
    }

    @Test
    void classPathOfTheJarIsExactlyLib() throws Exception {
        Set<String> classPath;
        try (JarFile jar = new JarFile(DISTRIBUTION.resolve("pcache.launcher.jar").toFile())) {
            classPath = new TreeSet<>(Arrays.asList(jar.getManifest().getMainAttributes().getValue("Class-Path").split(" ")));
        }
        Set<String> lib;
        try (Stream<Path> files = Files.list(DISTRIBUTION.resolve("lib"))) {
            lib = files.map(f -> "lib/" + f.getFileName()).collect(Collectors.toCollection(TreeSet::new));
        }
        assertEquals(lib, classPath, "bnd.bnd's Class-Path must list exactly the jars of lib/");
    }

    @Test
    void everyBundleIsActive() throws Exception {
        Run r = run("-c", "lb -s");
        assertEquals(0, r.status(), r.err());
        // the command waits for the embedded default cache; it must see it open, not time out
        assertFalse(r.err().contains("not open after"), r.err());
        long bundles;
        try (Stream<Path> jars = Files.list(DISTRIBUTION.resolve("bundles"))) {
            bundles = jars.filter(f -> f.toString().endsWith(".jar")).count();
        }
        List<String> rows = r.out().lines().filter(l -> l.matches("\\s*\\d+\\|.*")).toList();
        assertEquals(bundles + 1, rows.size(), r.out()); // + the system bundle
        for (String row : rows) {
            assertTrue(row.contains("|Active     |"), row);
        }
        assertTrue(r.out().contains("|pcache.shell (0.1.0.SNAPSHOT)"), r.out());
        assertTrue(Files.isDirectory(cwd.resolve("data/felix-cache")), "framework storage under ./data");
        // nothing but the command's answer: no bundle's own logger prints to the console (Felix's
        // Configurator printed its debug messages while the Log Service was not running yet, and
        // again after it stopped)
        for (String line : (r.out() + r.err()).lines().toList()) {
            assertFalse(line.startsWith("[DEBUG]") || line.startsWith("[INFO]"), line);
        }
    }

    @Test
    void failingCommandExitsOne() throws Exception {
        Run r = run("-c", "pcache:nosuch");
        assertEquals(1, r.status());
        assertTrue(r.err().contains("CommandNotFoundException: Command not found: pcache:nosuch"), r.err());
    }

    @Test
    void badConfigurationExitsTwoBeforeStarting() throws Exception {
        Path config = Files.writeString(cwd.resolve("bad.properties"), """
                cache.a.cache_dev = a.cache
                cache.a.backing_dev = file:a.backing
                cache.a.gc_percent = 95
                """);
        Run r = run("--config", config.toString(), "-Dcache.a.mode=fast", "-Dhttp.listen=8080", "-c", "lb");
        assertEquals(2, r.status(), r.err());
        assertTrue(r.err().contains("cache.a.gc_percent=95: expected an integer from 0 to 90"), r.err());
        assertTrue(r.err().contains("unknown key cache.a.mode"), r.err());
        assertTrue(r.err().contains("http.listen=8080: expected HOST:PORT"), r.err());
        assertFalse(Files.exists(cwd.resolve("data")), "nothing started, nothing created");
    }

    /**
     * A cache device or backing file that cannot be used is refused before the framework starts,
     * naming the key to set. Before, the launcher started, logged the failed open, and a command
     * waited 30 s for a cache that could never open (exit 0); a service ran without it.
     */
    @Test
    void aMissingCacheDeviceOrBackingFileExitsTwoBeforeStarting() throws Exception {
        Path config = Files.writeString(cwd.resolve("missing.properties"), """
                cache.a.cache_dev = a.cache
                cache.a.backing_dev = file:a.backing
                """);
        Run r = run("--config", config.toString(), "-c", "pcache:list");
        assertEquals(2, r.status(), r.err());
        Path data = cwd.resolve("data").toAbsolutePath();
        assertTrue(r.err().contains("cache a: cache device " + data.resolve("a.cache") + " does not exist: give"
                + " cache.a.cache_dev_size=SIZE (at least 512M) to create it"), r.err());
        assertTrue(r.err().contains("cache a: backing file " + data.resolve("a.backing") + " does not exist: give"
                + " cache.a.backing_dev_size=SIZE to create it"), r.err());
        assertFalse(Files.exists(data.resolve("felix-cache")), "the framework did not start");
    }

    /**
     * A {@code -c} command does not wait for a cache that failed to open: it runs at once, after
     * the reason. Before, it waited the full 30 s and said "see the log above".
     */
    @Test
    void aCommandRunsAtOnceWhenACacheFailsToOpenAndSaysWhy() throws Exception {
        Path data = Files.createDirectories(cwd.resolve("data"));
        ForeignDevices.write(data.resolve("f.cache"), 512L << 20);
        Files.write(data.resolve("f.backing"), new byte[1 << 20]);
        Path config = Files.writeString(cwd.resolve("failing.properties"), """
                cache.f.cache_dev = f.cache
                cache.f.backing_dev = file:f.backing
                """);
        Run r = run("--config", config.toString(), "-c", "pcache:list");
        assertEquals(0, r.status(), r.err());
        assertTrue(r.err().contains("CacheReadiness: cache f cannot be opened: superblock at cache-device offset 4096"
                + " (0x1000): magic 0xffffffffffffffff is not dm-pcache's"), r.err());
        assertFalse(r.err().contains("not open after"), r.err());
        assertTrue(r.out().contains("configured caches not open (1):"), r.out());
        assertTrue(r.out().contains("  f     failed  superblock at cache-device offset 4096"), r.out());
    }

    /**
     * A cache device named {@code pcache} in the data directory would take {@code pcache.lock},
     * the instance's own lock, as its lock file: refused before anything starts. Before, the
     * cache failed to open after start, its error saying that another cache of the process used
     * the device.
     */
    @Test
    void aCacheDeviceWhoseLockFileIsTheInstanceLockExitsTwoBeforeStarting() throws Exception {
        Path config = Files.writeString(cwd.resolve("lock.properties"), """
                cache.p.cache_dev = pcache
                cache.p.cache_dev_size = 512M
                cache.p.backing_dev = file:p.backing
                cache.p.backing_dev_size = 64M
                """);
        Run r = run("--config", config.toString(), "-c", "pcache:list");
        assertEquals(2, r.status(), r.err());
        Path data = cwd.resolve("data").toAbsolutePath();
        assertTrue(r.err().contains("cache p: cache.p.cache_dev=" + data.resolve("pcache") + ": its lock file "
                + data.resolve("pcache.lock") + " is the lock of the pcache instance itself"), r.err());
        assertFalse(Files.exists(data.resolve("felix-cache")), "the framework did not start");
    }

    /**
     * Two configuration errors found only late before: a pcache.data too long for its control
     * socket (found at the socket's bind, after the caches had opened and the export listened:
     * status 1) and a configured Web Console credentials file others may read (status 1). Both
     * exit 2 now, before the framework starts.
     */
    @Test
    void aDataDirectoryTooLongForItsSocketAndAnOpenCredentialsFileExitTwoBeforeStarting() throws Exception {
        String deep = cwd.toAbsolutePath() + "/" + "d".repeat(Math.max(1, 110 - cwd.toAbsolutePath().toString().length()));
        Run r = run("-Dpcache.data=" + deep, "--no-shell");
        assertEquals(2, r.status(), r.err());
        assertTrue(r.err().contains("pcache.data=" + deep + ": expected a directory whose control socket path ("
                + deep + "/pcache.ctl, "), r.err());
        assertFalse(Files.exists(Path.of(deep)), "nothing started, nothing created");

        Path credentials = Files.writeString(cwd.resolve("open-credentials"), "admin:secret\n");
        Files.setPosixFilePermissions(credentials, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        r = run("-Dhttp.listen=127.0.0.1:1", "-Dhttp.console_credentials=" + credentials, "-c", "lb");
        assertEquals(2, r.status(), r.err());
        assertTrue(r.err().contains("pcache: bad configuration: http.console_credentials: Web Console credentials "
                + credentials), r.err());
        assertFalse(Files.exists(cwd.resolve("data").resolve("felix-cache")), "the framework did not start");
    }

    /**
     * A listen address other machines can reach, with TLS off: refused before anything starts,
     * naming what to do, the key that accepts clear text plainly among it (SecurityTest checks that
     * key at the export; no test here binds an address other machines can reach).
     */
    @Test
    void aNetworkListenWithoutTlsExitsTwoNamingWhatToDo() throws Exception {
        Run r = run("-Dnbd.listen=0.0.0.0:10809", "-c", "lb");
        assertEquals(2, r.status(), r.err());
        assertTrue(r.err().contains("nbd.listen=0.0.0.0:10809 is reachable from other machines but nbd.tls=off"),
                r.err());
        assertTrue(r.err().contains("nbd.insecure_allow_cleartext_network=true"), r.err());
        assertFalse(Files.exists(cwd.resolve("data")), "nothing started, nothing created");
    }

    /**
     * Parts are named, not listed: a name no registered service gives is refused once the bundles
     * run, with the names that are registered, and the cache is never opened.
     */
    @Test
    void aPartNoBundleProvidesExitsTwoNamingWhatIsRegistered() throws Exception {
        Run r = run("-Dcache.pcache0.writeback_policy=lazy", "-Dcache.pcache0.key_index=btree", "-c", "pcache:list");
        assertEquals(2, r.status(), r.err());
        assertTrue(r.err().contains("cache.pcache0.writeback_policy=lazy: no write-back policy named 'lazy' is"
                + " registered; registered: batching, ordered"), r.err());
        assertTrue(r.err().contains("cache.pcache0.key_index=btree: no key index named 'btree' is registered;"
                + " registered: striped"), r.err());
        assertFalse(r.out().contains("caches"), "the command did not run: " + r.out());
    }

    /**
     * A second pcache given a hard link to a cache device another pcache has open, in a folder of
     * its own (so another lock file), does not open it: the device's file itself is locked. Before,
     * both opened the one device. The first pcache made its device new at this start, so its file
     * was locked once made.
     */
    @Test
    void aSecondPcacheOnAHardLinkToAnOpenCacheDeviceIsRefused() throws Exception {
        Process first = start("--no-shell");
        try {
            long deadline = awaitDefaultCacheOpen(first);
            Path elsewhere = Files.createDirectories(cwd.resolve("elsewhere"));
            Path link = Files.createLink(elsewhere.resolve("linked.cache"), cwd.resolve("data/pcache0.cache"));
            Files.write(elsewhere.resolve("other.backing"), new byte[1 << 20]);
            Path config = Files.writeString(cwd.resolve("linked.properties"), """
                    cache.linked.cache_dev = %s
                    cache.linked.backing_dev = file:%s
                    """.formatted(link, elsewhere.resolve("other.backing")));
            Run second = run("-Dpcache.data=" + elsewhere.resolve("data"), "-Dnbd.listen=unix:nbd2.sock", "--config",
                    config.toString(), "-c", "pcache:list");
            assertEquals(0, second.status(), second.err());
            assertTrue(second.err().contains("CacheReadiness: cache linked cannot be opened: cache device " + link
                    + " is in use by another cache, reached through another name (a hard link or a bind mount of the"
                    + " same file), in this process or another"), second.err());
            assertTrue(second.out().contains("configured caches not open (1):"), second.out());
        } finally {
            first.destroy(); // SIGTERM: a clean stop
            assertTrue(first.waitFor(TIMEOUT.toSeconds(), TimeUnit.SECONDS), "the first pcache stopped");
        }
    }

    /**
     * A second pcache whose backing device is the backing file of an open cache, by another name
     * (a hard link here), is refused: its backing device does not open, and the log says why. The
     * first goes on. Before, both wrote back to one disk, over each other's data. A command run
     * with such a configuration ({@code -c}) says at once why its cache is not open.
     */
    @Test
    void aSecondPcacheOnTheBackingFileOfAnOpenCacheIsRefused() throws Exception {
        Process first = start("--no-shell");
        Process second = null;
        try {
            long deadline = awaitDefaultCacheOpen(first);
            Path elsewhere = Files.createDirectories(cwd.resolve("elsewhere"));
            Path link = Files.createLink(elsewhere.resolve("linked.backing"), cwd.resolve("data/pcache0.backing"));
            Path config = Files.writeString(cwd.resolve("linked.properties"), """
                    cache.other.cache_dev = %s
                    cache.other.cache_dev_size = 512M
                    cache.other.backing_dev = file:%s
                    """.formatted(elsewhere.resolve("other.cache"), link));
            second = start("-Dpcache.data=" + elsewhere.resolve("data"), "-Dnbd.listen=unix:nbd2.sock", "--config",
                    config.toString(), "--no-shell");
            Path err = outputs.get(second)[1];
            String refusal = "path=" + link + " is in use by another user that locks it";
            while (!Files.readString(err).contains(refusal)) {
                assertTrue(second.isAlive(), "the second pcache ended: " + Files.readString(err));
                assertTrue(System.nanoTime() < deadline, "no refusal after " + TIMEOUT.toSeconds() + " s: "
                        + Files.readString(err));
                Thread.sleep(100);
            }
            while (!Files.exists(elsewhere.resolve("data/pcache.ctl"))) { // the refusal comes while it starts
                assertTrue(second.isAlive(), "the second pcache ended: " + Files.readString(err));
                assertTrue(System.nanoTime() < deadline, "no control socket after " + TIMEOUT.toSeconds() + " s");
                Thread.sleep(100);
            }
            Run secondList = run("-Dpcache.data=" + elsewhere.resolve("data"), "ctl", "pcache:list");
            assertTrue(secondList.out().contains("configured backing devices not open (1):")
                    && secondList.out().contains("other.backing  backing device 'other.backing' (pcache.backing.file): "
                    + refusal), "the second's list says why: " + secondList.out() + secondList.err());
            Run firstList = run("ctl", "pcache:list");
            assertTrue(firstList.out().contains("pcache0  4 GiB"), "the first still serves: " + firstList.out());

            // a command run with such a configuration says why its cache did not open, at once: its
            // cache stops waiting for a backing device that failed (before, it waited 30 s)
            Path third = Files.createDirectories(cwd.resolve("third"));
            Path thirdConfig = Files.writeString(cwd.resolve("third.properties"), """
                    cache.third.cache_dev = %s
                    cache.third.cache_dev_size = 512M
                    cache.third.backing_dev = file:%s
                    """.formatted(third.resolve("third.cache"), link));
            Run once = run("-Dpcache.data=" + third.resolve("data"), "-Dnbd.listen=unix:nbd3.sock", "--config",
                    thirdConfig.toString(), "-c", "pcache:list");
            assertEquals(0, once.status(), once.err());
            assertTrue(once.err().contains("CacheReadiness: cache third cannot be opened: cache third waits for a backing"
                    + " device that cannot open: backing device third.backing cannot be opened: backing device"
                    + " 'third.backing' (pcache.backing.file): " + refusal), once.err());
            assertFalse(once.err().contains("not open after"), once.err());
            assertTrue(once.out().contains("  third  failed  cache third waits for a backing device that cannot open"),
                    once.out());
        } finally {
            if (second != null) {
                second.destroy();
                assertTrue(second.waitFor(TIMEOUT.toSeconds(), TimeUnit.SECONDS), "the second pcache stopped");
            }
            first.destroy(); // SIGTERM: a clean stop
            assertTrue(first.waitFor(TIMEOUT.toSeconds(), TimeUnit.SECONDS), "the first pcache stopped");
        }
    }

    @Test
    void serviceAnswersOnItsControlSocketAndStopsOnSigterm() throws Exception {
        Process service = start("--no-shell");
        try {
            awaitControlSocket(service);
            Run lb = run("ctl", "lb", "-s");
            assertEquals(0, lb.status(), lb.err());
            assertTrue(lb.out().contains("|pcache.shell (0.1.0.SNAPSHOT)"), lb.out());
            Run list = run("ctl", "pcache:list");
            assertEquals(0, list.status(), list.err());
            assertTrue(list.out().startsWith("caches") && list.out().contains("\ncrc providers: "), list.out());
            Run version = run("ctl", "pcache:version");
            assertEquals(0, version.status(), version.err());
            assertTrue(version.out().contains("OSGi framework org.apache.felix.framework 7.0.5"), version.out());
            Run usage = run("ctl", "pcache:list extra");
            assertEquals(1, usage.status());
            assertTrue(usage.err().contains("pcache:list takes no arguments, got 'extra'"), usage.err());

            Run second = run("-c", "lb");
            assertEquals(1, second.status(), "a second instance on the same data directory is refused");
            assertTrue(second.err().contains("another pcache instance is running on"), second.err());

            service.destroy(); // SIGTERM
            Run stopped = await(service);
            assertEquals(0, stopped.status(), stopped.err());
            assertFalse(Files.exists(cwd.resolve("data/pcache.ctl")), "socket removed on exit");
        } finally {
            service.destroyForcibly();
        }
    }

    @Test
    void ctlWithoutInstance() throws Exception {
        Run r = run("ctl", "lb");
        assertEquals(1, r.status());
        assertTrue(r.err().contains("no running pcache instance"), r.err());
    }

    /**
     * The bundles that ship are the resolution of the launcher module's bndruns, which the build
     * resolves against the repository index it makes (and fails on a missing provider or a
     * changed result): {@code bundles/} is pcache.bndrun's {@code -runbundles}, {@code bundles/http/}
     * what pcache-http.bndrun adds to it. Every bundle by symbolic name and version, no more, no less.
     */
    @Test
    void theBundlesFoldersAreTheResolvedRuntimes() throws Exception {
        java.util.Map<String, String> base = runBundles(Path.of("pcache.bndrun"));
        java.util.Map<String, String> withHttp = runBundles(Path.of("pcache-http.bndrun"));
        assertTrue(base.size() > 20 && withHttp.keySet().containsAll(base.keySet()), base + "\n" + withHttp);
        java.util.Map<String, String> http = new java.util.TreeMap<>(withHttp);
        http.keySet().removeAll(base.keySet());
        assertEquals(base, shipped(DISTRIBUTION.resolve("bundles")), "bundles/ against pcache.bndrun");
        assertEquals(http, shipped(DISTRIBUTION.resolve("bundles").resolve(EmbeddedFramework.HTTP_BUNDLES)),
                "bundles/http/ against what pcache-http.bndrun adds");
    }

    /** A bndrun's {@code -runbundles}: symbolic name to the lowest version of its range. */
    private static java.util.Map<String, String> runBundles(Path bndrun) throws IOException {
        java.util.Map<String, String> bundles = new java.util.TreeMap<>();
        boolean in = false;
        for (String line : Files.readAllLines(bndrun)) {
            if (line.startsWith("-runbundles:")) {
                in = true;
                continue;
            }
            if (in) {
                java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\s*([^;\\s]+);version='\\[([^,]+),")
                        .matcher(line);
                if (!m.lookingAt()) {
                    break;
                }
                bundles.put(m.group(1), m.group(2));
                if (!line.trim().endsWith("\\")) {
                    break;
                }
            }
        }
        return bundles;
    }

    /** The jars of a folder: symbolic name to major.minor.micro of their version. */
    private static java.util.Map<String, String> shipped(Path folder) throws IOException {
        java.util.Map<String, String> bundles = new java.util.TreeMap<>();
        try (Stream<Path> jars = Files.list(folder)) {
            for (Path jar : jars.filter(f -> f.toString().endsWith(".jar")).toList()) {
                try (JarFile j = new JarFile(jar.toFile())) {
                    java.util.jar.Attributes a = j.getManifest().getMainAttributes();
                    String name = a.getValue("Bundle-SymbolicName").split(";")[0].trim();
                    String[] v = (a.getValue("Bundle-Version") + ".0.0").split("\\.");
                    bundles.put(name, v[0] + "." + v[1] + "." + v[2]);
                }
            }
        }
        return bundles;
    }
}
