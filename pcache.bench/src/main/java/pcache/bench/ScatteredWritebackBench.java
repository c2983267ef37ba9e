package pcache.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Write-back of scattered small writes that a client flushed often, on a small and on a large
 * device: {@link #drain} writes back {@value #WRITES} random 4 KiB writes made with a flush after
 * every {@value #FLUSH_EVERY} (so the ordered policy writes them back in groups of that many, each
 * followed by a backing flush). The data is the same whatever the device's size; what the size
 * changes is how many 4 MiB slices the writes spread over, so a drain that takes longer on the
 * large device spends that time on slices, not on data. Single shot; compare the two sizes.
 */
@Fork(jvmArgsAppend = {LaunchOptions.HEAP, LaunchOptions.PRETOUCH, LaunchOptions.GC_TIME})
@State(Scope.Benchmark)
public class ScatteredWritebackBench {

    static final int KIB4 = 4096;
    static final int WRITES = 32_768;
    static final int FLUSH_EVERY = 32;

    /**
     * The logical device: 4 GiB (1,024 slices) or 64 GiB (16,384 slices; the backing file is
     * sparse, but the file backing device wants the space free).
     */
    @Param({"4", "64"})
    public int logicalGiB;

    public EngineCache cache;
    private final ByteBuffer page = ByteBuffer.allocateDirect(KIB4);

    @Setup(Level.Trial)
    public void open() throws IOException {
        cache = EngineCache.create(1L << 30, (long) logicalGiB << 30, false, false);
    }

    /** A fresh cache holding the scattered dirty writes, write-back off. */
    @Setup(Level.Iteration)
    public void fill() throws IOException {
        cache.writeback(false);
        cache.reformat();
        SplittableRandom random = new SplittableRandom(7);
        long pages = ((long) logicalGiB << 30) / KIB4;
        for (int i = 1; i <= WRITES; i++) {
            page.clear();
            page.putLong(0, i);
            cache.engine.write(random.nextLong(pages) * KIB4, page, false);
            if (i % FLUSH_EVERY == 0) {
                cache.engine.flush();
            }
        }
        cache.engine.flush();
    }

    @TearDown(Level.Trial)
    public void close() throws IOException {
        cache.close();
    }

    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public void drain() throws IOException {
        cache.drain();
    }
}
