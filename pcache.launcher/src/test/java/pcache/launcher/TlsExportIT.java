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
 * Castle bundles in the framework) configured with {@code nbd.tls = require} and a PSK file or a
 * certificate directory, as README's "Networks and TLS" shows; libnbd and qemu as TLS clients; a
 * clear-text client and a client without a certificate refused with their log lines;
 * {@code pcache:status} naming the mode.
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
        try (PcacheProcess pcache = startRequiringTls("nbd.tls_psk_file = " + keys);
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
     * The same with X.509 certificates made as README shows (certtool, the layout qemu and nbdkit
     * use): the server's directory holds ca-cert.pem, so clients must present a certificate that CA
     * signed; a client without one is refused with one log line naming it, and the export keeps
     * serving the client that has one.
     */
    @Test
    void requireWithCertificatesVerifiesClientCertificates() throws Exception {
        ExternalTools.assumeInstalled("nbdinfo", "certtool");
        Path tls = Files.createDirectories(dir.resolve("tls"));
        Path server = Files.createDirectories(tls.resolve("server"));
        Path client = Files.createDirectories(tls.resolve("client"));
        Path bare = Files.createDirectories(tls.resolve("bare")); // the CA only: no client certificate
        try (ExternalTools tools = new ExternalTools(tls)) {
            certtool(tools, "--generate-privkey", "--outfile", tls.resolve("ca-key.pem").toString());
            Files.writeString(tls.resolve("ca.info"), "cn = test CA\nca\ncert_signing_key\nexpiration_days = 2\n");
            certtool(tools, "--generate-self-signed", "--load-privkey", tls.resolve("ca-key.pem").toString(),
                    "--template", tls.resolve("ca.info").toString(), "--outfile", tls.resolve("ca-cert.pem").toString());
            certtool(tools, "--generate-privkey", "--outfile", server.resolve("server-key.pem").toString());
            Files.writeString(tls.resolve("server.info"), "cn = localhost\ndns_name = localhost\nip_address = 127.0.0.1\n"
                    + "tls_www_server\nencryption_key\nsigning_key\nexpiration_days = 2\n");
            signed(tools, tls, server.resolve("server-key.pem"), "server.info", server.resolve("server-cert.pem"));
            certtool(tools, "--generate-privkey", "--outfile", client.resolve("client-key.pem").toString());
            Files.writeString(tls.resolve("client.info"), "cn = test client\ntls_www_client\nencryption_key\n"
                    + "signing_key\nexpiration_days = 2\n");
            signed(tools, tls, client.resolve("client-key.pem"), "client.info", client.resolve("client-cert.pem"));
            for (Path d : List.of(server, client, bare)) {
                Files.copy(tls.resolve("ca-cert.pem"), d.resolve("ca-cert.pem"));
            }
        }
        try (PcacheProcess pcache = startRequiringTls("nbd.tls_certificates = " + server);
             ExternalTools tools = new ExternalTools(dir)) {
            int port = pcache.port();
            ExternalTools.Result info = awaitServed(pcache, tools,
                    "nbds://127.0.0.1:" + port + "/disk?tls-certificates=" + client);
            assertTrue(info.stdout().contains("with TLS") && info.stdout().contains("export-size: " + (64 << 20)),
                    info.all());

            ExternalTools.Result refused = tools.run(TOOL_TIMEOUT, "nbdinfo",
                    "nbds://127.0.0.1:" + port + "/disk?tls-certificates=" + bare);
            assertTrue(refused.exitCode() != 0, refused.all());
            long deadline = System.nanoTime() + TOOL_TIMEOUT.toNanos();
            while (!pcache.log().toLowerCase(java.util.Locale.ROOT).contains("certificate")
                    && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            Optional<String> warning = pcache.log().lines().filter(l -> l.contains("WARNING")
                    && l.contains("127.0.0.1:") && l.toLowerCase(java.util.Locale.ROOT).contains("certificate")).findFirst();
            assertTrue(warning.isPresent(), "a warning names the client and its missing certificate:\n" + pcache.log());
            System.out.println("TlsExportIT: " + warning.get());

            assertEquals(0, tools.run(TOOL_TIMEOUT, "nbdinfo", "nbds://127.0.0.1:" + port + "/disk?tls-certificates="
                    + client).exitCode(), "the client with a certificate is still served");
            PcacheProcess.CtlResult status = pcache.ctl("pcache:status disk");
            assertEquals(0, status.status(), status.err());
            assertTrue(status.out().contains("TLS require (X.509 from " + server), status.out());
            assertEquals(0, pcache.stop(), "clean stop on SIGTERM:\n" + pcache.log());
        }
    }

    /**
     * The distribution on a free port with {@code nbd.tls = require}, the credentials line given and
     * a cache {@code disk} of 64 MiB. No export is named for readiness: the probe speaks clear text,
     * which this export refuses.
     */
    private PcacheProcess startRequiringTls(String credentials) throws Exception {
        return PcacheProcess.startOnFreePort(port -> PcacheProcess.configure(dir, Optional.of(port), """
                nbd.tls = require
                %s
                cache.disk.cache_dev = disk.cache
                cache.disk.cache_dev_size = 512M
                cache.disk.backing_dev = file:disk.backing
                cache.disk.backing_dev_size = 64M
                """.formatted(credentials)));
    }

    private static void certtool(ExternalTools tools, String... args) throws Exception {
        String[] command = new String[args.length + 1];
        command[0] = "certtool";
        System.arraycopy(args, 0, command, 1, args.length);
        tools.run(TOOL_TIMEOUT, command).assertSucceeded();
    }

    /** A certificate for {@code key}, from the template {@code info} in {@code tls}, signed by its CA. */
    private static void signed(ExternalTools tools, Path tls, Path key, String info, Path out) throws Exception {
        certtool(tools, "--generate-certificate", "--load-privkey", key.toString(), "--load-ca-certificate",
                tls.resolve("ca-cert.pem").toString(), "--load-ca-privkey", tls.resolve("ca-key.pem").toString(),
                "--template", tls.resolve(info).toString(), "--outfile", out.toString());
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
