package pcache.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;

/**
 * The engine's request path (issue 3's targets), to be read against {@link PmemFloorBench} run in
 * the same JMH invocation:
 * <ul>
 * <li>{@link #fuaWrite4kRandom}: 4 KiB random writes with FUA, one thread, latency distribution
 * (median vs {@code PmemFloorBench.mapped4kCopyForce}); {@link #fuaWrite4kRandomIops} the same
 * writes per second (vs {@code PmemFloorBench.backing4kRandomWriteSync}).</li>
 * <li>{@link #fuaWrite4kSequential}: the same FUA writes one after the other (not a target): what
 * a write costs when the index slice it lands in is in the processor's caches, against the random
 * writes, whose slices are not.</li>
 * <li>{@link #write4kRandomFlushEvery32}: 4 KiB random writes, a flush every 32, two threads.</li>
 * <li>{@link #write1MiBSequential}: 1 MiB sequential writes (vs {@code mapped1MiBCopy}).</li>
 * <li>{@link #read4kRandomHit}: 4 KiB random reads that hit, two threads.</li>
 * <li>{@link #read4kRandomHitDataCrc}: the same with data CRCs, one thread, of data written 4 KiB or
 * 1 MiB at a time (not a target); {@link #read4kRandomHitDataCrcZeroes} of a range written by
 * write-zeroes.</li>
 * </ul>
 * Each measurement iteration starts on a freshly formatted cache large enough that it does not
 * fill during the iteration (what is measured is the cache absorbing writes, not write-back).
 */
@Fork(jvmArgsAppend = {LaunchOptions.HEAP, LaunchOptions.PRETOUCH, LaunchOptions.GC_TIME}) // as ./pcache starts pcache
public class EngineBench {

    static final int KIB4 = 4096;
    static final int MIB = 1 << 20;

    /**
     * A cache device mapped (and faulted in) once per trial, freshly formatted per iteration. 8 GiB:
     * a 2 s iteration of FUA writes at 1 µs each logs 8 GB (4 GiB filled within an iteration once
     * the writes got faster, and with write-back off the writers then waited for space forever).
     */
    @State(Scope.Benchmark)
    public static class WriteCache {
        @Param({"8192"})
        public long cacheMiB;
        @Param({"false"})
        public boolean writeback;
        @Param({"false"})
        public boolean dataCrc;
        public EngineCache cache;
        public long logicalBytes;

        @Setup(Level.Trial)
        public void open() throws IOException {
            logicalBytes = 16L << 30;
            cache = EngineCache.create(cacheMiB << 20, logicalBytes, writeback, dataCrc);
        }

        @Setup(Level.Iteration)
        public void fresh() throws IOException {
            cache.reformat();
        }

        @TearDown(Level.Trial)
        public void close() throws IOException {
            cache.close();
        }
    }

    /** A cache holding 1 GiB of 4 KiB extents, for read hits. */
    @State(Scope.Benchmark)
    public static class ReadCache {
        public static final long FILLED = 1L << 30;
        public EngineCache cache;

        @Setup(Level.Trial)
        public void open() throws IOException {
            cache = filled(2048L << 20, FILLED, KIB4, false);
        }

        @TearDown(Level.Trial)
        public void close() throws IOException {
            cache.close();
        }
    }

    /**
     * A cache with data CRCs holding 256 MiB written in writes of {@code writeBytes}, for read hits
     * that verify the CRC of the data they read: what a small read of data a large write left
     * costs to check.
     */
    @State(Scope.Benchmark)
    public static class CrcReadCache {
        public static final long FILLED = 256L << 20;
        @Param({"4096", "1048576"})
        public int writeBytes;
        public EngineCache cache;

        @Setup(Level.Trial)
        public void open() throws IOException {
            cache = filled(1024L << 20, FILLED, writeBytes, true);
        }

        @TearDown(Level.Trial)
        public void close() throws IOException {
            cache.close();
        }
    }

    /** A cache with data CRCs whose 256 MiB were written by write-zeroes (keys of up to 4 MiB each), for read hits. */
    @State(Scope.Benchmark)
    public static class CrcZeroesCache {
        public EngineCache cache;

        @Setup(Level.Trial)
        public void open() throws IOException {
            cache = filled(1024L << 20, CrcReadCache.FILLED, 0, true);
        }

        @TearDown(Level.Trial)
        public void close() throws IOException {
            cache.close();
        }
    }

    /**
     * A cache of {@code cacheBytes} (write-back off) holding {@code [0, filled)}, written
     * {@code writeBytes} at a time, or by one write-zeroes when {@code writeBytes} is 0.
     */
    static EngineCache filled(long cacheBytes, long filled, int writeBytes, boolean dataCrc) throws IOException {
        EngineCache cache = EngineCache.create(cacheBytes, 16L << 30, false, dataCrc);
        if (writeBytes == 0) {
            cache.engine.writeZeroes(0, filled, false);
            cache.engine.flush();
            return cache;
        }
        ByteBuffer data = ByteBuffer.allocateDirect(writeBytes);
        for (long off = 0; off < filled; off += writeBytes) {
            data.clear();
            data.putLong(0, off);
            cache.engine.write(off, data, false);
        }
        cache.engine.flush();
        return cache;
    }

    /** Per-thread buffers and the flush cadence. */
    @State(Scope.Thread)
    public static class Buffers {
        public final ByteBuffer page = ByteBuffer.allocateDirect(KIB4);
        public final ByteBuffer mebibyte = ByteBuffer.allocateDirect(MIB);
        public int writes;
    }

    @Benchmark
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public void fuaWrite4kRandom(WriteCache c, Buffers b, Cursor cursor) throws IOException {
        b.page.clear();
        c.cache.engine.write(cursor.random(KIB4, c.logicalBytes), b.page, true);
    }

    /** Where {@link #fuaWrite4kSequential} wraps around: half the cache, so its data and log fit. */
    static final long SEQUENTIAL_AREA = 4L << 30;

    /**
     * 4 KiB FUA writes at consecutive offsets: each lands at the end of the slice the previous one
     * filled, so the slice's lines are cached and nothing is overwritten. When the offsets wrap
     * around the cache is formatted afresh (one outlier sample per 4 GiB; read the median).
     */
    @Benchmark
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public void fuaWrite4kSequential(WriteCache c, Buffers b, Cursor cursor) throws IOException {
        long at = cursor.sequential(KIB4, SEQUENTIAL_AREA);
        if (at == 0 && b.writes++ > 0) {
            c.cache.reformat();
        }
        b.page.clear();
        c.cache.engine.write(at, b.page, true);
    }

    /**
     * The same writes counted per second: the IOPS target's figure. The mean of
     * {@link #fuaWrite4kRandom}'s samples is no substitute: a pause of tens of ms lands in a
     * sample only by chance, so that mean swings by a factor of two between runs.
     */
    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public void fuaWrite4kRandomIops(WriteCache c, Buffers b, Cursor cursor) throws IOException {
        fuaWrite4kRandom(c, b, cursor);
    }

    /** Writes per thread in one shot of {@link #write4kRandomFlushEvery32}. */
    static final int WRITES_PER_SHOT = 100_000;
    /** 1 MiB writes in one shot of {@link #write1MiBSequential} (1 GiB). */
    static final int MIB_PER_SHOT = 1024;

    /**
     * One shot = {@value #WRITES_PER_SHOT} writes per thread on a freshly formatted cache (so the
     * cache never fills while measured); the score is time per write per thread: IOPS = threads /
     * score.
     */
    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    @OperationsPerInvocation(WRITES_PER_SHOT)
    @Threads(2)
    public void write4kRandomFlushEvery32(WriteCache c, Buffers b, Cursor cursor) throws IOException {
        for (int i = 0; i < WRITES_PER_SHOT; i++) {
            b.page.clear();
            c.cache.engine.write(cursor.random(KIB4, c.logicalBytes), b.page, false);
            if (++b.writes % 32 == 0) {
                c.cache.engine.flush();
            }
        }
    }

    /** One shot = 1 GiB in 1 MiB sequential writes on a fresh cache; MiB/s = 1 / score (s/op). */
    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    @OperationsPerInvocation(MIB_PER_SHOT)
    public void write1MiBSequential(WriteCache c, Buffers b) throws IOException {
        for (int i = 0; i < MIB_PER_SHOT; i++) {
            b.mebibyte.clear();
            c.cache.engine.write((long) i * MIB, b.mebibyte, false);
        }
    }

    /** 4 KiB random read hits with data CRCs on, of a range written by write-zeroes (not a target), one thread. */
    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public void read4kRandomHitDataCrcZeroes(CrcZeroesCache c, Buffers b, Cursor cursor) throws IOException {
        b.page.clear();
        c.cache.engine.read(cursor.random(KIB4, CrcReadCache.FILLED), b.page);
    }

    /** 4 KiB random read hits with data CRCs on (not a target), one thread. */
    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public void read4kRandomHitDataCrc(CrcReadCache c, Buffers b, Cursor cursor) throws IOException {
        b.page.clear();
        c.cache.engine.read(cursor.random(KIB4, CrcReadCache.FILLED), b.page);
    }

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    @Threads(2)
    public void read4kRandomHit(ReadCache c, Buffers b, Cursor cursor) throws IOException {
        b.page.clear();
        c.cache.engine.read(cursor.random(KIB4, ReadCache.FILLED), b.page);
    }
}
