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
import java.util.concurrent.TimeUnit;

/**
 * One server of the comparison, running: its files created fresh (a sparse backing file of the
 * same size on the same disk for every peer), the process started and ready, stopped and its
 * files deleted on {@link #close()}.
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
    private final Path socket;
    private final int port;
    private Path pcacheConfig;
    private Process process;

    private PeerServer(Peer peer, Transport transport, BenchSettings settings, Path runDir) throws IOException {
        this.peer = peer;
        this.settings = settings;
        this.runDir = runDir;
        this.backingFile = settings.diskDir().resolve("nbdbench-" + ProcessHandle.current().pid() + "-raw.img");
        if (transport == Transport.UNIX) {
            socket = runDir.resolve("nbd.sock");
            port = -1;
            uri = "nbd+unix:///" + EXPORT + "?socket=" + socket;
        } else {
            socket = null;
            port = freePort();
            uri = "nbd://127.0.0.1:" + port + "/" + EXPORT;
        }
    }

    /** Creates the files of {@code peer}, starts it and waits until it serves the export. */
    static PeerServer start(Peer peer, Transport transport, BenchSettings settings, Path runDir)
            throws IOException, InterruptedException {
        Files.createDirectories(runDir);
        PeerServer server = new PeerServer(peer, transport, settings, runDir);
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

    private void launch() throws IOException, InterruptedException {
        sparseFile(backingFile, settings.backingBytes());
        List<String> command = new ArrayList<>();
        switch (peer) {
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
        }
        Files.writeString(runDir.resolve("command.txt"), String.join(" ", command) + "\n");
        process = new ProcessBuilder(command).directory(runDir.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(runDir.resolve("server.out").toFile())
                .redirectError(runDir.resolve("server.err").toFile()).start();
        awaitReady();
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
                "cache." + EXPORT + ".backing_dev = file:" + backingFile, ""));
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString()));
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
        command.add(image.toString());
        return command;
    }

    private void awaitReady() throws IOException, InterruptedException {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (true) {
            if (!process.isAlive()) {
                throw new IOException(peer.label() + " exited with " + process.exitValue() + ": " + log());
            }
            if (Tools.run(runDir, Duration.ofSeconds(10), "nbdinfo", "--size", uri).exitCode() == 0) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new IOException(peer.label() + " does not serve " + uri + " after " + START_TIMEOUT + ": "
                        + log());
            }
            Thread.sleep(200);
        }
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
        }
        Tools.run(runDir, timeout, "sync");
    }

    private boolean pcacheClean() throws IOException, InterruptedException {
        Tools.Result list = Tools.run(runDir, Duration.ofSeconds(30), Path.of(System.getProperty("java.home"), "bin",
                "java").toString(), "-jar", (peer == Peer.PCACHE_BASELINE ? settings.baseline() : settings.distribution())
                .resolve("pcache.launcher.jar").toString(),
                "--config", pcacheConfig.toString(), "ctl", "pcache:list");
        return list.exitCode() == 0 && list.stdout().lines().map(String::trim)
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
