package pcache.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Opening a cache replays its key log (issue 3: "replay of 1 M keys ≤ 1 s"). The trial builds a
 * cache holding {@code keys} separate 512-byte extents (one key each, 4 KiB apart so none overlap),
 * then every measured operation closes and re-opens it. {@link #main} also measures the index's
 * memory per extent (target ≤ 64 bytes).
 */
@State(Scope.Benchmark)
public class ReplayBench {

    @Param({"1000000"})
    public int keys;

    public EngineCache cache;

    @Setup(Level.Trial)
    public void build() throws IOException {
        cache = EngineCache.create(1L << 30, 8L << 30, false, false);
        fill(cache, keys);
    }

    static void fill(EngineCache cache, int keys) throws IOException {
        ByteBuffer sector = ByteBuffer.allocateDirect(512);
        for (long i = 0; i < keys; i++) {
            sector.clear();
            sector.putLong(0, i);
            cache.engine.write(i * 4096, sector, false);
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
    public long reopenReplays() throws IOException {
        cache.reopen();
        return cache.engine.statistics().keys();
    }

    private static long usedHeapAfterGc() throws InterruptedException {
        for (int i = 0; i < 4; i++) {
            System.gc();
            Thread.sleep(100);
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    /**
     * Index memory per cached extent: heap after replaying {@code keys} extents minus heap with
     * the engine closed, divided by the extents.
     * {@code java -cp pcache.bench/target/benchmarks.jar pcache.bench.ReplayBench [keys]}
     */
    public static void main(String[] args) throws Exception {
        int keys = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        try (EngineCache cache = EngineCache.create(1L << 30, 8L << 30, false, false)) {
            fill(cache, keys);
            cache.engine.close();
            cache.engine = null; // drop the old index before measuring
            long before = usedHeapAfterGc();
            long t0 = System.nanoTime();
            cache.reopen(); // closes the (already closed) engine, replays into a new index
            long replayMillis = (System.nanoTime() - t0) / 1_000_000L;
            long after = usedHeapAfterGc();
            long extents = cache.engine.statistics().keys();
            System.out.printf("extents %d, replay %d ms, heap %+d bytes, %.1f bytes per extent%n", extents,
                    replayMillis, after - before, (after - before) / (double) extents);
        }
    }
}
