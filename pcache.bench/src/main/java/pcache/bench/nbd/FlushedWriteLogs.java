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
 * the range and exactly one flush after every {@value #WRITES_PER_FLUSH} writes, one log per
 * connection.
 *
 * <p>Why a log and not {@code fio --fsync=32}: fio 3.33 (Debian 12's) decides a flush is due while
 * the number of writes issued is a multiple of 32 and no flush has completed since, so at QD16 it
 * fills every free slot with a flush until the first one completes: about 15 flushes per 32
 * writes instead of one (measured: 95,121 flushes for 209,209 writes; at QD1 it issues 1 per 32).
 * Later fio only issues it right after a write. A log replayed with {@code --replay_no_stall=1}
 * keeps the queue depth and issues exactly the flushes it lists.
 *
 * <p>Each log holds {@code (ramp + runtime) × }{@value #WRITES_PER_SECOND}{@code  writes}: a
 * connection faster than that runs out of log before the runtime ends, which the harness detects
 * ({@link FioResult#runtimeMillis()}) and reports instead of a figure. The logs are written once per
 * run (every server replays the same offsets) from {@code seed}, and deleted when the run ends.
 */
final class FlushedWriteLogs implements AutoCloseable {

    /** Writes between two flushes. */
    static final int WRITES_PER_FLUSH = 32;

    /** The rate per connection the logs are long enough for. */
    static final long WRITES_PER_SECOND = 200_000;

    private static final String FILE = "nbd";

    private final Path dir;
    private final List<Path> logs;
    private final long writesPerLog;

    private FlushedWriteLogs(Path dir, List<Path> logs, long writesPerLog) {
        this.dir = dir;
        this.logs = List.copyOf(logs);
        this.writesPerLog = writesPerLog;
    }

    /** Writes one log per connection of the multi-connection workload (at least one) into a new folder of {@code parent}. */
    static FlushedWriteLogs create(Path parent, BenchSettings settings) throws IOException {
        long writes = (settings.rampSeconds() + (long) settings.runtimeSeconds()) * WRITES_PER_SECOND;
        Path dir = Files.createTempDirectory(parent, "nbdbench-iologs-");
        List<Path> logs = new ArrayList<>();
        try {
            SplittableRandom seeds = new SplittableRandom(settings.seed());
            for (int c = 0; c < Math.max(1, settings.connections()); c++) {
                Path log = dir.resolve("flushed-randwrite-4k-" + c + ".iolog");
                logs.add(log);
                write(log, settings.rangeBytes(), 4096, writes, seeds.nextLong());
            }
        } catch (IOException | RuntimeException e) {
            delete(dir, logs);
            throw e;
        }
        return new FlushedWriteLogs(dir, logs, writes);
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

    /** The log of connection {@code index} (from 0). */
    Path log(int index) {
        return logs.get(index);
    }

    /** Writes in each log. */
    long writesPerLog() {
        return writesPerLog;
    }

    @Override
    public void close() {
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
