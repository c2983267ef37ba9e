package pcache.itest;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assume.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.After;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceRegistration;
import org.osgi.framework.dto.ServiceReferenceDTO;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.runtime.ServiceComponentRuntime;
import org.osgi.service.component.runtime.dto.ComponentConfigurationDTO;
import org.osgi.service.component.runtime.dto.ComponentDescriptionDTO;
import org.osgi.service.component.runtime.dto.SatisfiedReferenceDTO;

import pcache.api.CacheDevice;
import pcache.api.NbdExports;
import pcache.api.spi.PmemProvider;
import pcache.api.spi.PmemRegion;

/**
 * Issue 5's proof that a running cache changes its parts with nothing lost and no client error:
 * an NBD client (libnbd through nbdsh) does continuous verified I/O through the export while the
 * backing device is swapped between a file and an NBD export of the same file 100 times, the
 * write-back policy is switched several times and the pmem mapping is switched between the
 * memory-mapped and the positional-I/O provider several times, and once to a mapping that cannot
 * open the device at all (the cache rolls back to the mapping it had). The client checks every read
 * against what it wrote and, at the end, every block; afterwards everything is written back and
 * the backing file must equal what the cache serves.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class LiveSwapIT extends PcacheTestSupport {

    private static final long DISK_BYTES = 256L << 20;
    private static final int BACKING_SWAPS = Integer.getInteger("pcache.itest.swaps", 100);
    private final List<Process> processes = new ArrayList<>();

    @After
    public void stopProcesses() {
        for (Process p : processes) {
            p.destroyForcibly();
        }
    }

    /**
     * Returns when every tool is installed; otherwise fails in CI ({@code CI=true}, as .ci/run runs)
     * and skips elsewhere. The same rule as pcache.testkit's ExternalTools, which is not installed in
     * the framework this test runs in.
     */
    private static void requireTools(String... tools) {
        List<String> missing = new ArrayList<>();
        for (String tool : tools) {
            if (!onPath(tool)) {
                missing.add(tool);
            }
        }
        String message = "not installed: " + String.join(", ", missing) + " (.ci/run installs them)";
        if (!missing.isEmpty() && "true".equalsIgnoreCase(System.getenv("CI"))) {
            throw new AssertionError(message + "; CI=true: a missing tool fails the test");
        }
        assumeTrue(message, missing.isEmpty());
    }

    private static boolean onPath(String tool) {
        for (String dir : ("/usr/bin:" + System.getenv().getOrDefault("PATH", "")).split(":")) {
            if (new File(dir, tool).canExecute()) {
                return true;
            }
        }
        return false;
    }

    private Process start(Path log, String... command) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("PATH", "/usr/bin:" + System.getenv().getOrDefault("PATH", "/bin"));
        Process p = pb.start();
        processes.add(p);
        return p;
    }

    private static String client(Path socket, Path stopFile) {
        return String.join("\n",
                "import nbd, os, random, struct, sys, time",
                "h = nbd.NBD()",
                "h.connect_uri('nbd+unix:///swap?socket=" + socket + "')",
                "bs = 4096",
                "blocks = min(h.get_size() // bs, 16384)",
                "rnd = random.Random(7)",
                "model = {}",
                "ops = errors = 0",
                "version = 0",
                "def expect(b):",
                "    v = model.get(b)",
                "    return bytes(bs) if v is None else struct.pack('<QQ', b, v) * (bs // 16)",
                "def check(b, data, when):",
                "    global errors",
                "    if data != expect(b):",
                "        errors += 1",
                "        print('MISMATCH %s block %d version %s' % (when, b, model.get(b)), flush=True)",
                "while not os.path.exists('" + stopFile + "') or ops < 2000:",
                "    b = rnd.randrange(blocks)",
                "    try:",
                "        if rnd.random() < 0.6:",
                "            version += 1",
                "            data = struct.pack('<QQ', b, version) * (bs // 16)",
                "            h.pwrite(data, b * bs, nbd.CMD_FLAG_FUA if rnd.random() < 0.1 else 0)",
                "            model[b] = version",
                "        else:",
                "            check(b, h.pread(bs, b * bs), 'live')",
                "        if ops % 64 == 0:",
                "            h.flush()",
                "    except nbd.Error as e:",
                "        errors += 1",
                "        print('NBD ERROR', e, flush=True)",
                "    ops += 1",
                "h.flush()",
                "for b in sorted(model):",
                "    check(b, h.pread(bs, b * bs), 'final')",
                "h.shutdown()",
                "print('ops=%d errors=%d blocks=%d' % (ops, errors, len(model)), flush=True)",
                "sys.exit(1 if errors else 0)");
    }

    @Test
    public void swapsBackingPolicyAndMappingUnderVerifiedIo() throws Exception {
        requireTools("nbdkit", "nbdsh");
        Path dir = workDirectory("swap");
        Path disk = dir.resolve("disk.img");
        Path cache = dir.resolve("cache.img");
        Path backingSocket = dir.resolve("nbdkit.sock");
        Path exportSocket = dir.resolve("export.sock");
        Path stop = dir.resolve("stop");
        for (Path p : List.of(disk, cache, backingSocket, exportSocket, stop)) {
            Files.deleteIfExists(p);
        }
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(DISK_BYTES);
        }
        start(dir.resolve("nbdkit.log"), "nbdkit", "-f", "-U", backingSocket.toString(), "file",
                "file=" + disk);
        waitFor("nbdkit's socket", 10_000, () -> Files.exists(backingSocket));

        ConfigurationAdmin admin = awaitService(ConfigurationAdmin.class, null);
        Configuration export = admin.getConfiguration("pcache.export.nbd", "?");
        export.update(new Hashtable<>(Map.of("listen", "unix:" + exportSocket)));
        // the same data reachable two ways: one identity label for both
        configure("pcache.backing.file", "swap-file", Map.of("name", "swap-file", "path", disk.toString(),
                "identity", "swap-disk"));
        configure("pcache.backing.nbd", "swap-nbd", Map.of("name", "swap-nbd", "uri",
                "nbd+unix:///?socket=" + backingSocket, "identity", "swap-disk"));
        Hashtable<String, Object> target = new Hashtable<>();
        target.put("name", "swap");
        target.put("cache_dev", cache.toString());
        target.put("cache_dev_size_bytes", 512L << 20);
        target.put("gc_percent", 10);
        target.put("backing.target", "(pcache.backing.name=swap-file)");
        target.put("pmem.target", "(pcache.pmem.type=mapped)");
        target.put("writeback.target", "(pcache.writeback.policy=ordered)");
        target.put("backing_timeout_ms", 60_000L);
        Configuration targetConfig = configure("pcache.target", "swap", target);
        CacheDevice device = awaitService(CacheDevice.class, "(pcache.cache.name=swap)");
        waitFor("the export socket", 20_000, () -> Files.exists(exportSocket));
        // the export binds the new cache while the framework delivers its REGISTERED event
        NbdExports exports = awaitService(NbdExports.class, null);
        waitFor("the cache exported", 20_000, () -> exports.exports().stream()
                .anyMatch(e -> e.name().equals("swap") && e.exported()));

        Path script = dir.resolve("client.py");
        Files.writeString(script, client(exportSocket, stop));
        Path clientLog = dir.resolve("client.log");
        // Debian's python3 has libnbd's module (python3-libnbd); another python3 first on PATH may not
        String python = new File("/usr/bin/python3").canExecute() ? "/usr/bin/python3" : "python3";
        Process client = start(clientLog, python, script.toString());

        Thread.sleep(500); // the client is under way before the first swap
        int policySwaps = 0;
        int mappingSwaps = 0;
        String mapping = "mapped";
        boolean brokenTried = false;
        for (int i = 1; i <= BACKING_SWAPS; i++) {
            String backing = i % 2 == 1 ? "swap-nbd" : "swap-file";
            update(targetConfig, "backing.target", "(pcache.backing.name=" + backing + ")");
            String expected = i % 2 == 1 ? "nbd" : "file:";
            waitFor("backing " + backing, 30_000, () -> device.status().backing().startsWith(expected)
                    && device.status().backingState() == pcache.api.BackingState.ONLINE);
            if (i % 20 == 10) {
                String policy = ++policySwaps % 2 == 1 ? "batching" : "ordered";
                update(targetConfig, "writeback.target", "(pcache.writeback.policy=" + policy + ")");
            }
            if (i % 25 == 0) {
                String pmem = ++mappingSwaps % 2 == 1 ? "fileio" : "mapped";
                update(targetConfig, "pmem.target", "(pcache.pmem.type=" + pmem + ")");
                waitFor("pmem " + pmem, 60_000, () -> onMapping(device, pmem));
                mapping = pmem;
            }
            if (i % 25 == 12 && !brokenTried) {
                brokenMappingRollsBack(targetConfig, device, mapping);
                brokenTried = true;
            }
            assertTrue("the client died: " + Files.readString(clientLog), client.isAlive());
            Thread.sleep(60);
        }
        Files.writeString(stop, "stop");
        assertTrue("client finishes", client.waitFor(120, TimeUnit.SECONDS));
        String log = Files.readString(clientLog, StandardCharsets.UTF_8);
        assertEquals("client output:\n" + log, 0, client.exitValue());
        assertTrue(log, log.contains("errors=0"));
        System.out.println("LiveSwapIT: " + BACKING_SWAPS + " backing swaps, " + policySwaps + " policy swaps, "
                + mappingSwaps + " mapping swaps; client: " + log.strip().lines().reduce((a, b) -> b).orElse(""));
        assertTrue("policy swapped", policySwaps >= 4);
        assertTrue("mapping swapped", mappingSwaps >= 3);
        assertTrue("a swap to a mapping that cannot open the device was tried", brokenTried);

        // everything written back: the backing file holds what the cache serves
        device.drain(null);
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "r")) {
            byte[] onDisk = new byte[1 << 20];
            for (long off = 0; off < 64L << 20; off += onDisk.length) {
                f.seek(off);
                f.readFully(onDisk);
                ByteBuffer cached = ByteBuffer.allocate(onDisk.length);
                device.read(off, cached);
                assertArrayEquals("backing file at " + off, cached.array(), onDisk);
            }
        }
        targetConfig.delete();
        export.delete();
    }

    private static boolean onMapping(CacheDevice device, String pmem) {
        return device.status().cacheDevice().contains(pmem.equals("fileio") ? "(fileio)" : "(mapped");
    }

    /**
     * A pmem mapping whose open always fails is selected while the client runs: the cache rolls back
     * to the mapping it had ({@code current}) and keeps serving; the client sees no error (checked
     * with all its other reads at the end). Then the configuration points back at {@code current}.
     */
    private void brokenMappingRollsBack(Configuration targetConfig, CacheDevice device, String current)
            throws Exception {
        AtomicInteger opens = new AtomicInteger();
        PmemProvider broken = new PmemProvider() {
            @Override
            public String type() {
                return "broken";
            }

            @Override
            public PmemRegion open(Path path, long createSizeBytes) throws IOException {
                opens.incrementAndGet();
                throw new IOException("the test's broken mapping refuses " + path);
            }
        };
        ServiceRegistration<PmemProvider> registration = context.registerService(PmemProvider.class, broken,
                new Hashtable<>(Map.of(PmemProvider.TYPE, "broken")));
        try {
            update(targetConfig, "pmem.target", "(pcache.pmem.type=broken)");
            waitFor("the broken mapping to be tried", 30_000, () -> opens.get() > 0);
            waitFor("the cache back on " + current, 60_000, () -> {
                if (!onMapping(device, current)) {
                    return false;
                }
                try {
                    device.read(0, ByteBuffer.allocate(4096));
                    return true;
                } catch (IOException e) {
                    throw new AssertionError("the cache failed a read after the rollback: " + e, e);
                }
            });
            update(targetConfig, "pmem.target", "(pcache.pmem.type=" + current + ")");
            // Declarative Services applies the new target on its own thread: until it has let go
            // of the broken mapping, withdrawing that service would leave the cache without one
            long brokenId = (Long) registration.getReference().getProperty(Constants.SERVICE_ID);
            ServiceComponentRuntime scr = awaitService(ServiceComponentRuntime.class, null);
            waitFor("the cache to let go of the broken mapping", 60_000, () -> !pmemBound(scr, "swap", brokenId));
            waitFor("pmem " + current + " bound again", 60_000, () -> onMapping(device, current));
        } finally {
            registration.unregister();
        }
        assertEquals("one open through the broken mapping", 1, opens.get());
    }

    /** Whether the pcache.target component of cache {@code cache} has service {@code id} bound as its pmem mapping. */
    private static boolean pmemBound(ServiceComponentRuntime scr, String cache, long id) {
        for (ComponentDescriptionDTO d : scr.getComponentDescriptionDTOs()) {
            if (!d.name.equals("pcache.engine.internal.PcacheTargetComponent")) {
                continue;
            }
            for (ComponentConfigurationDTO c : scr.getComponentConfigurationDTOs(d)) {
                if (!cache.equals(c.properties.get("name"))) {
                    continue;
                }
                for (SatisfiedReferenceDTO r : c.satisfiedReferences) {
                    if (r.name.equals("pmem")) {
                        for (ServiceReferenceDTO bound : r.boundServices) {
                            if (bound.id == id) {
                                return true;
                            }
                        }
                    }
                }
            }
        }
        return false;
    }
}
