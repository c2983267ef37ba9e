package pcache.bench.nbd;

import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * One server of the comparison, running: its files created fresh (a sparse backing file of the
 * same size on the same disk for every peer), the process started and ready, stopped and its
 * files deleted on {@link #close()}.
 *
 * <p>A TLS server requires TLS with the run's certificates. fio connects to it with an
 * {@code nbds://} URI without {@code ?tls-certificates=}: libnbd refuses that parameter unless the
 * program allows local files in URIs, which fio's nbd engine does not, and libnbd 1.14 then
 * encrypts without verifying the server's certificate (same handshake, same cipher, no check).
 * The readiness check ({@code nbdinfo}, which allows them) connects with the certificates and so
 * verifies the server once, and records the session's cipher for the table.
 */
final class PeerServer implements AutoCloseable {

    static final String EXPORT = "bench";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(120);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(120);

    private final Peer peer;
    private final BenchSettings settings;
    private final Path runDir;
    private final Path backingFile;
    private final List<Path> files = new ArrayList<>();
    private final String uri;
    private final String verifiedUri;
    private final Path certificates;
    private final Path socket;
    private final int port;
    private Path pcacheConfig;
    private Process process;
    private String tlsSession;

    private PeerServer(Peer peer, Transport transport, BenchSettings settings, Path runDir, Path certificates)
            throws IOException {
        this.peer = peer;
        this.settings = settings;
        this.runDir = runDir;
        this.certificates = peer.tls() ? certificates : null;
        this.backingFile = settings.diskDir().resolve("nbdbench-" + ProcessHandle.current().pid() + "-raw.img");
        String scheme = peer.tls() ? "nbds" : "nbd";
        if (transport == Transport.UNIX) {
            socket = runDir.resolve("nbd.sock");
            port = -1;
            uri = scheme + "+unix:///" + EXPORT + "?socket=" + socket;
        } else {
            socket = null;
            port = freePort();
            uri = scheme + "://127.0.0.1:" + port + "/" + EXPORT;
        }
        verifiedUri = peer.tls() ? uri + (uri.contains("?") ? "&" : "?") + "tls-certificates=" + certificates : uri;
    }

    /**
     * Creates the files of {@code peer}, starts it and waits until it serves the export.
     *
     * @param certificates the run's TLS certificates ({@link TlsCredentials}), or null if no server needs them
     */
    static PeerServer start(Peer peer, Transport transport, BenchSettings settings, Path runDir, Path certificates)
            throws IOException, InterruptedException {
        if (peer.tls() && certificates == null) {
            throw new IllegalArgumentException(peer.label() + " needs the run's TLS certificates");
        }
        Files.createDirectories(runDir);
        PeerServer server = new PeerServer(peer, transport, settings, runDir, certificates);
        if (server.socket != null) {
            Files.deleteIfExists(server.socket); // an earlier run's, in a reused --out directory: nbdkit refuses to bind it
        }
        try {
            server.launch();
            return server;
        } catch (IOException | InterruptedException | RuntimeException e) {
            server.close();
            throw e;
        }
    }

    /** The URI clients use. */
    String uri() {
        return uri;
    }

    Peer peer() {
        return peer;
    }

    /** The TLS session libnbd reported when it connected with the certificates (cipher, key exchange), if TLS. */
    Optional<String> tlsSession() {
        return Optional.ofNullable(tlsSession);
    }

    private void launch() throws IOException, InterruptedException {
        sparseFile(backingFile, settings.backingBytes());
        List<String> command = new ArrayList<>();
        switch (peer.clearText()) {
            case PCACHE -> command.addAll(pcacheCommand(settings.distribution()));
            case PCACHE_BASELINE -> command.addAll(pcacheCommand(settings.baseline()));
            case NBDKIT_FILE -> command.addAll(nbdkit("file", backingFile.toString()));
            case NBDKIT_FILE_CACHE -> command.addAll(nbdkit("--filter=cache", "file", backingFile.toString(),
                    "cache=writeback"));
            case QEMU_NBD_RAW -> command.addAll(qemuNbd("raw", backingFile));
            case QEMU_NBD_QCOW2 -> {
                Path overlay = settings.diskDir().resolve("nbdbench-" + ProcessHandle.current().pid() + "-overlay.qcow2");
                files.add(overlay);
                Files.deleteIfExists(overlay);
                Tools.run(runDir, Duration.ofSeconds(60), "qemu-img", "create", "-q", "-f", "qcow2", "-b",
                        backingFile.toString(), "-F", "raw", overlay.toString());
                command.addAll(qemuNbd("qcow2", overlay));
            }
            case NBDKIT_MEMORY -> command.addAll(nbdkit("memory", "size=" + settings.backingBytes()));
            default -> throw new IllegalStateException("no command for " + peer);
        }
        Files.writeString(runDir.resolve("command.txt"), String.join(" ", command) + "\n");
        ProcessBuilder builder = new ProcessBuilder(command).directory(runDir.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(runDir.resolve("server.out").toFile())
                .redirectError(runDir.resolve("server.err").toFile());
        // pcache reads PCACHE_* variables as configuration and refuses unknown ones; the scripts'
        // own (PCACHE_BENCH_DIR, ...) are not meant for it, and the run configures pcache itself
        builder.environment().keySet().removeIf(k -> k.startsWith("PCACHE_"));
        process = builder.start();
        awaitReady();
        if (peer.tls()) {
            tlsSession = readTlsSession();
        }
    }

    private List<String> pcacheCommand(Path distribution) throws IOException {
        Path cacheDevice = settings.memoryDir().resolve("nbdbench-" + ProcessHandle.current().pid() + "-pcache.cache");
        files.add(cacheDevice);
        files.add(cacheDevice.resolveSibling(cacheDevice.getFileName() + ".lock")); // the engine's lock file
        Files.deleteIfExists(cacheDevice);
        String listen = socket != null ? "unix:" + socket : "127.0.0.1:" + port;
        pcacheConfig = Files.writeString(runDir.resolve("pcache.properties"), String.join("\n",
                "pcache.data = " + runDir.resolve("data"),
                "nbd.listen = " + listen,
                "cache." + EXPORT + ".cache_dev = " + cacheDevice,
                "cache." + EXPORT + ".cache_dev_size = " + settings.cacheBytes(),
                "cache." + EXPORT + ".backing_dev = file:" + backingFile,
                certificates == null ? "" : String.join("\n", "nbd.tls = require",
                        "nbd.tls_certificates = " + certificates, "nbd.tls_verify_peer = false", "")));
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString()));
        command.addAll(pcache.bench.LaunchOptions.ALL);
        command.addAll(settings.pcacheJvmOptions());
        command.addAll(List.of("-jar", distribution.resolve("pcache.launcher.jar").toString(),
                "--config", pcacheConfig.toString(), "--no-shell"));
        return command;
    }

    private List<String> nbdkit(String... pluginAndFilters) {
        List<String> command = new ArrayList<>(List.of("nbdkit", "-f"));
        if (socket != null) {
            command.addAll(List.of("-U", socket.toString()));
        } else {
            command.addAll(List.of("-i", "127.0.0.1", "-p", Integer.toString(port)));
        }
        if (certificates != null) {
            command.addAll(List.of("--tls=require", "--tls-certificates=" + certificates));
        }
        command.addAll(List.of(pluginAndFilters));
        return command;
    }

    private List<String> qemuNbd(String format, Path image) {
        // -t: keep serving after a client leaves (fio connects once for the size, then per job)
        List<String> command = new ArrayList<>(List.of("qemu-nbd", "-f", format, "-x", EXPORT, "-t", "--shared=16"));
        if (socket != null) {
            command.addAll(List.of("-k", socket.toString()));
        } else {
            command.addAll(List.of("-b", "127.0.0.1", "-p", Integer.toString(port)));
        }
        if (certificates != null) {
            // no client certificates, as with the other servers (qemu's default would require them)
            command.addAll(List.of("--object", "tls-creds-x509,id=tls0,dir=" + certificates
                    + ",endpoint=server,verify-peer=off", "--tls-creds", "tls0"));
        }
        command.add(image.toString());
        return command;
    }

    private void awaitReady() throws IOException, InterruptedException {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (true) {
            if (!process.isAlive()) {
                throw new IOException(peer.label() + " exited with " + process.exitValue() + ": " + log());
            }
            Tools.Result info = Tools.run(runDir, Duration.ofSeconds(10), "nbdinfo", "--size", verifiedUri);
            if (info.exitCode() == 0) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new IOException(peer.label() + " does not serve " + verifiedUri + " after " + START_TIMEOUT
                        + ": " + info.stderr().trim() + "; server: " + log());
            }
            Thread.sleep(200);
        }
    }

    /** libnbd's debug line on the session, e.g. "cipher AES-256-GCM (256 bits) key exchange ECDHE-RSA ...". */
    private String readTlsSession() throws IOException, InterruptedException {
        Tools.Result info = Tools.run(runDir, Duration.ofSeconds(30), Map.of("LIBNBD_DEBUG", "1"),
                List.of("nbdinfo", "--size", verifiedUri));
        String marker = "connection is using TLS: ";
        return info.stderr().lines().filter(l -> l.contains(marker)).findFirst()
                .map(l -> l.substring(l.indexOf(marker) + marker.length()).trim()).orElse("unknown");
    }

    /**
     * Waits until written data has settled, so that the next workload does not measure the last
     * one's background work: pcache until its cache is clean (write-back done), then for every
     * peer {@code sync} (the page cache of the backing disk).
     */
    void settle(Duration timeout) throws IOException, InterruptedException {
        if (peer.pcache()) {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (!pcacheClean()) {
                if (System.nanoTime() > deadline) {
                    System.err.println("nbd-bench: pcache is not clean after " + timeout + "; going on");
                    break;
                }
                Thread.sleep(500);
            }
            // the mapped cache device is faulted in on a thread of its own after the open
            // (prefault = background): no workload may share the cores with it
            while (prefaulting()) {
                if (System.nanoTime() > deadline) {
                    System.err.println("nbd-bench: pcache still faults its cache device in after " + timeout
                            + "; going on");
                    break;
                }
                Thread.sleep(500);
            }
        }
        Tools.run(runDir, timeout, "sync");
    }

    /** Whether pcache's thread that faults the cache device in still runs ({@code jcmd Thread.print}). */
    private boolean prefaulting() throws IOException, InterruptedException {
        Tools.Result threads = Tools.run(runDir, Duration.ofSeconds(30), Path.of(System.getProperty("java.home"),
                "bin", "jcmd").toString(), Long.toString(process.pid()), "Thread.print");
        if (threads.exitCode() != 0) {
            throw new IOException("jcmd " + process.pid() + " Thread.print failed: " + threads.stderr().trim());
        }
        return threads.stdout().contains("\"pcache-prefault-");
    }

    private boolean pcacheClean() throws IOException, InterruptedException {
        Tools.Result list = Tools.run(runDir, Duration.ofSeconds(30), Path.of(System.getProperty("java.home"), "bin",
                "java").toString(), "-jar", (peer == Peer.PCACHE_BASELINE ? settings.baseline() : settings.distribution())
                .resolve("pcache.launcher.jar").toString(),
                "--config", pcacheConfig.toString(), "ctl", "pcache:list");
        if (list.exitCode() != 0) { // not a cache still writing back: say why at once
            throw new IOException("pcache:list failed (exit code " + list.exitCode() + "): " + list.stderr().trim());
        }
        return list.stdout().lines().map(String::trim)
                .anyMatch(l -> l.startsWith(EXPORT + " ") && l.matches(".*\\sclean\\s.*"));
    }

    /** The server's stderr so far. */
    String log() {
        try {
            return Files.readString(runDir.resolve("server.err"), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return e.toString();
        }
    }

    /** Stops the server (SIGTERM, bounded) and deletes its files. */
    @Override
    public void close() throws IOException, InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroy();
            if (!process.waitFor(STOP_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                System.err.println("nbd-bench: " + peer.label() + " did not stop within " + STOP_TIMEOUT + "; killing it");
                process.destroyForcibly();
                process.waitFor(30, TimeUnit.SECONDS);
            }
        }
        for (Path f : files) {
            Files.deleteIfExists(f);
        }
        Files.deleteIfExists(backingFile);
    }

    private static void sparseFile(Path file, long bytes) throws IOException {
        Files.deleteIfExists(file);
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(bytes);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress("127.0.0.1", 0));
            return s.getLocalPort();
        }
    }
}
