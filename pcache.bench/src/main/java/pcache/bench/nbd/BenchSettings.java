package pcache.bench.nbd;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.SplittableRandom;

import pcache.bench.BenchFiles;

/**
 * The harness's command line, {@code --key=value} options (see {@link #USAGE}).
 *
 * @param distribution the pcache distribution folder (pcache.launcher/target/pcache)
 * @param baseline another pcache distribution to compare with in the same run, or null
 * @param diskDir where the backing file (and qemu's overlay) go: a real disk
 * @param memoryDir where pcache's cache device goes: tmpfs, the pmem stand-in
 * @param outDir where fio's JSON, the servers' logs and the tables go
 * @param rangeBytes the range every workload works on (fits in the cache)
 * @param backingBytes the size of the backing file and of every export
 * @param cacheBytes the size of pcache's cache device
 * @param runtimeSeconds measured seconds per workload
 * @param rampSeconds unmeasured seconds before each workload
 * @param transports unix and/or tcp, one table each
 * @param peers the servers, in the order they run (in the first round; see {@code rounds})
 * @param pcacheJvmOptions extra JVM options for the pcache process (e.g. -XX:StartFlightRecording=...)
 * @param smallQueueDepth queue depth of the 4 KiB workloads (per connection)
 * @param largeQueueDepth queue depth of the 1 MiB workloads
 * @param connections connections of the multi-connection workloads (1: they do not run)
 * @param rounds how often the whole run of a transport repeats, the order of the peers alternating
 * @param workloads the workloads that run (in the fixed order of {@link NbdBench}; the prefill always runs)
 * @param seed the seed of the random offsets of the flushed writes' I/O logs ({@link FlushedWriteLogs})
 * @param freshMulti whether the multi-connection flushed writes start on a server started again,
 *        prefilled and settled, so that they start from the state the single-connection ones started
 *        from rather than from the full cache those left; the workloads after them go on on that
 *        server in the harness's order
 */
record BenchSettings(Path distribution, Path baseline, Path diskDir, Path memoryDir, Path outDir, long rangeBytes,
        long backingBytes, long cacheBytes, int runtimeSeconds, int rampSeconds, List<Transport> transports,
        List<Peer> peers, List<String> pcacheJvmOptions, int smallQueueDepth, int largeQueueDepth, int connections,
        int rounds, Set<FioWorkload> workloads, long seed, boolean freshMulti) {

    /** Why {@code --tls=psk} is refused: what fio's nbd engine lets libnbd do. */
    static final String NO_PSK = "--tls=psk: fio's nbd engine (fio 3.33) passes only a URI to libnbd, and libnbd"
            + " refuses the URI's ?tls-psk-file= unless the program allows local files (fio does not): no fio job"
            + " can use a PSK; the bulk cipher of a PSK session is the same as of an X.509 one (--tls=x509)";

    static final String USAGE = """
            usage: java -cp pcache.bench/target/benchmarks.jar pcache.bench.nbd.NbdBench [--option=value]...
              --distribution=DIR   pcache distribution (default pcache.launcher/target/pcache)
              --baseline=DIR       another pcache distribution (e.g. built from an earlier commit): adds
                                   the peer pcache_baseline and a column pcache / baseline
              --disk=DIR           backing files (default -Dpcache.bench.disk or java.io.tmpdir)
              --memory=DIR         pcache's cache device (default /dev/shm)
              --out=DIR            fio JSON, logs, tables (default target/nbd-bench)
              --range=SIZE         range of every workload (default 512M)
              --backing=SIZE       backing file / export size (default 1G)
              --cache=SIZE         pcache cache device size, at least 512M (default 1G)
              --runtime=SECONDS    per workload (default 20)
              --ramp=SECONDS       warm-up per workload, not measured (default 3)
              --transport=LIST     unix,tcp (default unix)
              --peers=LIST         pcache,nbdkit_file,nbdkit_file_cache,qemu_nbd_raw,qemu_nbd_qcow2,nbdkit_memory
                                   in the order they run (default all, in this order); TLS servers:
                                   pcache_tls,nbdkit_file_tls,qemu_nbd_raw_tls,nbdkit_memory_tls
              --tls=x509           run every peer that has a TLS server right after it with TLS required too
                                   (pcache, nbdkit file, qemu-nbd raw, nbdkit memory); certificates made at
                                   run time with certtool (gnutls-bin); default off
              --workloads=LIST     the workloads that run, of randread_4k_hits,randread_4k_hits_multi,
                                   seqread_1m,flushed_randwrite_4k,flushed_randwrite_4k_multi,seqwrite_1m,
                                   seqwrite_1m_after_randwrite (default all; the order below stays)
              --pcache-jvm=OPTION  extra JVM option for pcache, repeatable (e.g. -XX:StartFlightRecording=filename=x.jfr)
              --qd-small=N         queue depth of the 4 KiB workloads, per connection (default 16)
              --qd-large=N         queue depth of the 1 MiB workloads (default 4)
              --connections=N      connections of the multi-connection 4 KiB workloads, one fio job
                                   each (default 4; 1 leaves those workloads out)
              --rounds=N           run every peer N times per transport, the order reversed every other
                                   round; then a summary of the rounds: medians, and the ratios of
                                   pcache to the peers per round as median, min and max (default 1)
              --seed=N             seed of the flushed writes' random offsets (default: a new one, printed)
              --fresh-multi=on|off on (default): the flushed writes over N connections start on a server
                                   started again, prefilled and settled, from the state the ones over one
                                   connection started from (not from the full cache those left); the
                                   workloads after them go on on that server; off: one server for all
                                   workloads, as before 2026-12-07
            workloads per server, in this order ("settle": until pcache is clean, then sync):
              prefill (1 MiB writes over the range), settle (pcache: also until its cache device is
              faulted in); 4 KiB random read hits (QD qd-small); the same over N connections; 1 MiB
              sequential reads (QD qd-large); flushed 4 KiB random writes (fio replays I/O logs written
              at the start: exactly one flush after every 32 writes), settle; the same over N
              connections, settle; 1 MiB sequential writes, settle; flushed 4 KiB random writes again
              (not reported) and right after them, without settling, 1 MiB sequential writes again:
              "1 MiB sequential writes directly after random writes". With --fresh-multi=on the
              flushed writes over N connections start on a server started again, prefilled and settled
            """;

    /** Parses the command line. */
    static BenchSettings parse(String... args) {
        Path distribution = Path.of("pcache.launcher/target/pcache");
        Path baseline = null;
        Path disk = BenchFiles.diskDir();
        Path memory = BenchFiles.memoryDir();
        Path out = Path.of("target/nbd-bench");
        long range = 512L << 20;
        long backing = 1L << 30;
        long cache = 1L << 30;
        int runtime = 20;
        int ramp = 3;
        List<Transport> transports = List.of(Transport.UNIX);
        Set<Peer> peers = new LinkedHashSet<>(EnumSet.allOf(Peer.class).stream().filter(p -> !p.tls()).toList());
        boolean tls = false;
        Set<FioWorkload> workloads = EnumSet.allOf(FioWorkload.class);
        List<String> jvm = new ArrayList<>();
        int qdSmall = 16;
        int qdLarge = 4;
        int connections = 4;
        int rounds = 1;
        long seed = new SplittableRandom().nextLong();
        boolean freshMulti = true;
        for (String arg : args) {
            int eq = arg.indexOf('=');
            if (!arg.startsWith("--") || eq < 0) {
                throw new IllegalArgumentException("expected --option=value, got '" + arg + "'\n" + USAGE);
            }
            String key = arg.substring(2, eq);
            String value = arg.substring(eq + 1);
            switch (key) {
                case "distribution" -> distribution = Path.of(value);
                case "baseline" -> baseline = Path.of(value);
                case "disk" -> disk = Path.of(value);
                case "memory" -> memory = Path.of(value);
                case "out" -> out = Path.of(value);
                case "range" -> range = bytes(value);
                case "backing" -> backing = bytes(value);
                case "cache" -> cache = bytes(value);
                case "runtime" -> runtime = Integer.parseInt(value);
                case "ramp" -> ramp = Integer.parseInt(value);
                case "transport" -> transports = List.of(value.split(",")).stream()
                        .map(t -> Transport.valueOf(t.trim().toUpperCase(Locale.ROOT))).toList();
                case "peers" -> peers = peers(value);
                case "pcache-jvm" -> jvm.add(value);
                case "qd-small" -> qdSmall = positive(key, value);
                case "qd-large" -> qdLarge = positive(key, value);
                case "connections" -> connections = positive(key, value);
                case "rounds" -> rounds = positive(key, value);
                case "tls" -> tls = tls(value);
                case "workloads" -> workloads = workloads(value);
                case "seed" -> seed = number(key, value);
                case "fresh-multi" -> freshMulti = switch (value.trim().toLowerCase(Locale.ROOT)) {
                    case "on" -> true;
                    case "off" -> false;
                    default -> throw new IllegalArgumentException("--fresh-multi takes on or off, got '" + value
                            + "'");
                };
                default -> throw new IllegalArgumentException("unknown option --" + key + "\n" + USAGE);
            }
        }
        if (range > backing) {
            throw new IllegalArgumentException("--range=" + range + " exceeds --backing=" + backing);
        }
        return new BenchSettings(distribution.toAbsolutePath(),
                baseline == null ? null : baseline.toAbsolutePath(), disk.toAbsolutePath(), memory.toAbsolutePath(),
                out.toAbsolutePath(), range, backing, cache, runtime, ramp, transports,
                withTls(withBaseline(peers, baseline != null), tls), List.copyOf(jvm),
                qdSmall, qdLarge, connections, rounds, Set.copyOf(workloads), seed, freshMulti);
    }

    /** {@code --tls}: whether the TLS servers run. */
    private static boolean tls(String value) {
        return switch (value.trim().toLowerCase(Locale.ROOT)) {
            case "x509" -> true;
            case "off" -> false;
            case "psk" -> throw new IllegalArgumentException(NO_PSK);
            default -> throw new IllegalArgumentException("--tls takes x509 or off, got '" + value + "'");
        };
    }

    /** {@code --workloads}: a set, the order is NbdBench's. */
    private static Set<FioWorkload> workloads(String value) {
        Set<FioWorkload> workloads = EnumSet.noneOf(FioWorkload.class);
        for (String w : value.split(",")) {
            try {
                workloads.add(FioWorkload.valueOf(w.trim().toUpperCase(Locale.ROOT)));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--workloads: unknown workload '" + w.trim() + "'\n" + USAGE, e);
            }
        }
        return workloads;
    }

    /** With {@code tls}, every peer that has a TLS server followed by it (unless it is in the list already). */
    private static List<Peer> withTls(List<Peer> peers, boolean tls) {
        if (!tls) {
            return peers;
        }
        List<Peer> list = new ArrayList<>();
        for (Peer p : peers) {
            if (!list.contains(p)) {
                list.add(p);
            }
            Peer secure = Peer.tlsOf(p);
            if (secure != p && !list.contains(secure)) {
                list.add(secure);
            }
        }
        return List.copyOf(list);
    }

    /** Whether some server requires TLS (the run needs certificates). */
    boolean tls() {
        return peers.stream().anyMatch(Peer::tls);
    }

    /**
     * Whether {@code w} runs: chosen by {@code --workloads}, and for a multi-connection workload
     * {@code --connections} above 1.
     */
    boolean runs(FioWorkload w) {
        return workloads.contains(w) && (!w.multiConnection() || multiConnection());
    }

    /** {@code --peers}: in the order given, each once. */
    private static Set<Peer> peers(String value) {
        Set<Peer> peers = new LinkedHashSet<>();
        for (String p : value.split(",")) {
            peers.add(Peer.valueOf(p.trim().toUpperCase(Locale.ROOT)));
        }
        return peers;
    }

    /** The peers in order; pcache_baseline right after pcache if there is a baseline, else nowhere. */
    private static List<Peer> withBaseline(Set<Peer> peers, boolean baseline) {
        List<Peer> list = new ArrayList<>();
        for (Peer p : peers) {
            if (p == Peer.PCACHE_BASELINE) {
                continue;
            }
            list.add(p);
            if (p == Peer.PCACHE && baseline) {
                list.add(Peer.PCACHE_BASELINE);
            }
        }
        return List.copyOf(list);
    }

    /** Whether the multi-connection workloads run ({@code --connections} above 1). */
    boolean multiConnection() {
        return connections > 1;
    }

    private static long number(String key, String value) {
        try {
            return Long.parseLong(value.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + key + " takes a number, got '" + value + "'\n" + USAGE);
        }
    }

    private static int positive(String key, String value) {
        int n;
        try {
            n = Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + key + " takes a number, got '" + value + "'\n" + USAGE);
        }
        if (n < 1) {
            throw new IllegalArgumentException("--" + key + " must be at least 1, got " + n);
        }
        return n;
    }

    /** {@code 512M}, {@code 1G}, {@code 4096}: powers of 1024. */
    static long bytes(String value) {
        String v = value.trim().toUpperCase(Locale.ROOT);
        long unit = switch (v.isEmpty() ? ' ' : v.charAt(v.length() - 1)) {
            case 'K' -> 1L << 10;
            case 'M' -> 1L << 20;
            case 'G' -> 1L << 30;
            default -> 1;
        };
        return Long.parseLong(unit == 1 ? v : v.substring(0, v.length() - 1)) * unit;
    }
}
