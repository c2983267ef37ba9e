package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * TLS on the export through the assembled product: the distribution (pcache.tls and the Bouncy
 * Castle bundles in the framework) configured with {@code nbd.tls = require} and a PSK file, as
 * README's "Networks and TLS" shows; libnbd and qemu as TLS clients; a clear-text client refused
 * with its log line; {@code pcache:status} naming the mode.
 */
@Timeout(180)
class TlsExportIT {
    private static final Duration TOOL_TIMEOUT = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    @Test
    void requireWithPreSharedKeysServesTlsClientsOnly() throws Exception {
        ExternalTools.assumeInstalled("nbdinfo", "qemu-io");
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        Path pskDir = Files.createDirectories(dir.resolve("psk"));
        Path keys = Files.writeString(pskDir.resolve("keys.psk"), "alice:" + HexFormat.of().formatHex(key) + "\n");
        // no export named: the readiness probe speaks clear text, which this export refuses
        try (PcacheProcess pcache = PcacheProcess.startOnFreePort(port -> PcacheProcess.configure(dir,
                Optional.of(port), """
                nbd.tls = require
                nbd.tls_psk_file = %s
                cache.disk.cache_dev = disk.cache
                cache.disk.cache_dev_size = 512M
                cache.disk.backing_dev = file:disk.backing
                cache.disk.backing_dev_size = 64M
                """.formatted(keys)));
             ExternalTools tools = new ExternalTools(dir)) {
            int port = pcache.port();
            String uri = "nbds://alice@127.0.0.1:" + port + "/disk?tls-psk-file=" + keys;
            ExternalTools.Result info = awaitServed(pcache, tools, uri);
            assertTrue(info.stdout().contains("with TLS") && info.stdout().contains("export-size: " + (64 << 20)),
                    info.all());

            tools.run(TOOL_TIMEOUT, "qemu-io", "--object", "tls-creds-psk,id=tls0,dir=" + pskDir
                    + ",username=alice,endpoint=client", "--image-opts", "driver=nbd,host=127.0.0.1,port=" + port
                    + ",export=disk,tls-creds=tls0", "-c", "write -P 0xab 0 1M", "-c", "read -P 0xab 0 1M")
                    .assertSucceeded();

            ExternalTools.Result clear = tools.run(TOOL_TIMEOUT, "nbdinfo", pcache.tcpUri("disk"));
            assertTrue(clear.exitCode() != 0 && clear.stdout().contains("without TLS"), clear.all());
            assertTrue(pcache.log().contains("this server requires TLS: send NBD_OPT_STARTTLS first"), pcache.log());

            PcacheProcess.CtlResult status = pcache.ctl("pcache:status disk");
            assertEquals(0, status.status(), status.err());
            assertTrue(status.out().contains("TLS require (PSK from " + keys), status.out());
            assertEquals(0, pcache.stop(), "clean stop on SIGTERM:\n" + pcache.log());
        }
    }

    /**
     * A distribution without pcache.tls (an appliance that left it out) and TLS required: pcache
     * exits with status 2 naming the missing bundle, and never serves the export in clear text.
     */
    @Test
    void withoutTheTlsBundleTlsOnIsRefusedAtStart() throws Exception {
        Path copy = dir.resolve("dist");
        try (var files = Files.walk(PcacheProcess.DISTRIBUTION)) {
            for (Path from : (Iterable<Path>) files::iterator) {
                Path to = copy.resolve(PcacheProcess.DISTRIBUTION.relativize(from).toString());
                if (Files.isDirectory(from)) {
                    Files.createDirectories(to);
                } else if (!from.getFileName().toString().startsWith("pcache.tls-")) {
                    Files.copy(from, to);
                }
            }
        }
        try (var bundles = Files.list(copy.resolve("bundles"))) {
            List<String> names = bundles.map(b -> b.getFileName().toString()).toList();
            assertTrue(names.stream().anyMatch(n -> n.startsWith("pcache.export.nbd-")), "the copy has the other bundles");
            assertTrue(names.stream().noneMatch(n -> n.startsWith("pcache.tls-")), "the copy has no pcache.tls");
        }
        Path keys = Files.writeString(dir.resolve("keys.psk"), "alice:" + HexFormat.of().formatHex(new byte[32]) + "\n");
        try (PcacheProcess pcache = PcacheProcess.configure(dir, Optional.empty(), """
                nbd.tls = require
                nbd.tls_psk_file = %s
                cache.disk.cache_dev = disk.cache
                cache.disk.cache_dev_size = 512M
                cache.disk.backing_dev = file:disk.backing
                cache.disk.backing_dev_size = 64M
                """.formatted(keys)).withDistribution(copy)) {
            pcache.start();
            assertEquals(2, pcache.awaitExit(PcacheProcess.START_TIMEOUT), pcache.log());
            assertTrue(pcache.log().contains("nbd.tls=require needs a TlsProvider service and no bundle provides one: "
                    + "expected pcache.tls"), pcache.log());
        }
    }

    /** Waits (bounded) until a TLS client gets the export: the readiness probe speaks clear text. */
    private static ExternalTools.Result awaitServed(PcacheProcess pcache, ExternalTools tools, String uri)
            throws Exception {
        long deadline = System.nanoTime() + PcacheProcess.START_TIMEOUT.toNanos();
        while (true) {
            ExternalTools.Result r = tools.run(TOOL_TIMEOUT, "nbdinfo", uri);
            if (r.exitCode() == 0) {
                return r;
            }
            if (!pcache.isAlive() || System.nanoTime() > deadline) {
                fail("pcache does not serve " + uri + ": " + r.all() + "\n" + pcache.log());
            }
            Thread.sleep(200);
        }
    }
}
