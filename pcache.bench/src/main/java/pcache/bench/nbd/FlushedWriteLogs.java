package pcache.bench.nbd;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The I/O logs fio replays for the flushed 4 KiB random writes: random block-aligned writes over
 * the range and exactly one flush after every {@value #WRITES_PER_FLUSH} writes; a log for the
 * single-connection workload and one per connection for the multi-connection one.
 *
 * <p>Why a log and not {@code fio --fsync=32}: fio 3.33 (Debian 12's) decides a flush is due while
 * the number of writes issued is a multiple of 32 and no flush has completed since, so at QD16 it
 * fills every free slot with a flush until the first one completes: about 15 flushes per 32
 * writes instead of one (measured: 95,121 flushes for 209,209 writes; at QD1 it issues 1 per 32).
 * Later fio only issues it right after a write. fio replays a log at the job's queue depth and
 * issues exactly the flushes it lists ({@code --replay_no_stall=1} only matters for logs with
 * timestamps, which version 2 logs do not have).
 *
 * <p>The single-connection log holds {@code (ramp + runtime) × }{@value #WRITES_PER_SECOND}{@code
 * writes}, each multi-connection log {@code (ramp + runtime) × }{@value
 * #WRITES_PER_SECOND_EACH}{@code  writes}. A connection faster than that runs out of log before
 * the runtime ends, which the harness detects ({@link NbdBench}) and reports instead of a figure.
 * fio reads a whole log into memory when its job starts, before the job's ramp (about 0.5 s per
 * million writes and 115 bytes per write with fio 3.33), so the jobs of the multi-connection
 * workload start their ramps up to about that much apart. The logs are written once per run
 * (every server replays the same offsets) from {@code seed}, and deleted when the run ends (or,
 * when it is interrupted, when the JVM exits).
 */
final class FlushedWriteLogs implements AutoCloseable {

    /** Writes between two flushes. */
    static final int WRITES_PER_FLUSH = 32;

    /** The rate the single-connection log is long enough for. */
    static final long WRITES_PER_SECOND = 200_000;

    /** The rate per connection the multi-connection logs are long enough for. */
    static final long WRITES_PER_SECOND_EACH = 100_000;

    /** The size of every write. */
    static final int BLOCK_BYTES = 4096;

    private static final String FILE = "nbd";

    private final Path dir;
    private final Path single;
    private final List<Path> multi;
    private final long singleWrites;
    private final long multiWrites;

    private FlushedWriteLogs(Path dir, Path single, List<Path> multi, long singleWrites, long multiWrites) {
        this.dir = dir;
        this.single = single;
        this.multi = List.copyOf(multi);
        this.singleWrites = singleWrites;
        this.multiWrites = multiWrites;
    }

    /**
     * Writes the single-connection log and one log per connection of the multi-connection
     * workload (none if {@code settings} has one connection) into a new folder of {@code parent},
     * at {@value #WRITES_PER_SECOND} and {@value #WRITES_PER_SECOND_EACH} writes per second.
     */
    static FlushedWriteLogs create(Path parent, BenchSettings settings) throws IOException {
        return create(parent, settings, WRITES_PER_SECOND, WRITES_PER_SECOND_EACH);
    }

    /** {@link #create(Path, BenchSettings)} at other rates (tests). */
    static FlushedWriteLogs create(Path parent, BenchSettings settings, long perSecond, long perSecondEach)
            throws IOException {
        long seconds = settings.rampSeconds() + (long) settings.runtimeSeconds();
        Path dir = Files.createTempDirectory(parent, "nbdbench-iologs-");
        dir.toFile().deleteOnExit(); // registered first, deleted last
        List<Path> logs = new ArrayList<>();
        try {
            SplittableRandom seeds = new SplittableRandom(settings.seed());
            Path single = dir.resolve("flushed-randwrite-4k.iolog");
            logs.add(single);
            single.toFile().deleteOnExit();
            write(single, settings.rangeBytes(), BLOCK_BYTES, seconds * perSecond, seeds.nextLong());
            List<Path> multi = new ArrayList<>();
            for (int c = 0; settings.multiConnection() && c < settings.connections(); c++) {
                Path log = dir.resolve("flushed-randwrite-4k-multi-" + c + ".iolog");
                logs.add(log);
                multi.add(log);
                log.toFile().deleteOnExit();
                write(log, settings.rangeBytes(), BLOCK_BYTES, seconds * perSecondEach, seeds.nextLong());
            }
            return new FlushedWriteLogs(dir, single, multi, seconds * perSecond, seconds * perSecondEach);
        } catch (IOException | RuntimeException e) {
            delete(dir, logs);
            throw e;
        }
    }

    /**
     * Writes a fio I/O log (version 2) of {@code writes} writes of {@code blockSize} bytes at
     * random block-aligned offsets below {@code rangeBytes}, a flush after every
     * {@value #WRITES_PER_FLUSH}.
     */
    static void write(Path log, long rangeBytes, int blockSize, long writes, long seed) throws IOException {
        long blocks = rangeBytes / blockSize;
        if (blocks < 1) {
            throw new IllegalArgumentException("a range of " + rangeBytes + " bytes holds no block of " + blockSize);
        }
        SplittableRandom random = new SplittableRandom(seed);
        String write = FILE + " write ";
        String length = " " + blockSize + "\n";
        String flush = FILE + " sync 0 0\n";
        try (BufferedWriter out = Files.newBufferedWriter(log, StandardCharsets.US_ASCII)) {
            out.write("fio version 2 iolog\n" + FILE + " add\n" + FILE + " open\n");
            for (long i = 1; i <= writes; i++) {
                out.write(write);
                out.write(Long.toString(random.nextLong(blocks) * blockSize));
                out.write(length);
                if (i % WRITES_PER_FLUSH == 0) {
                    out.write(flush);
                }
            }
            out.write(FILE + " close\n");
        }
    }

    /** The single-connection workload's log. */
    Path single() {
        return single;
    }

    /** The multi-connection workload's log of connection {@code index} (from 0). */
    Path multi(int index) {
        return multi.get(index);
    }

    /** Writes in the single-connection log. */
    long singleWrites() {
        return singleWrites;
    }

    /** Writes in each multi-connection log. */
    long multiWrites() {
        return multiWrites;
    }

    @Override
    public void close() {
        List<Path> logs = new ArrayList<>(multi);
        logs.add(single);
        delete(dir, logs);
    }

    private static void delete(Path dir, List<Path> logs) {
        try {
            for (Path log : logs) {
                Files.deleteIfExists(log);
            }
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("could not delete the I/O logs in " + dir, e);
        }
    }
}
