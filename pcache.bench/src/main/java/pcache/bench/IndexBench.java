package pcache.bench;

import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import pcache.api.spi.CacheKey;
import pcache.api.spi.ExtentVisitor;
import pcache.api.spi.KeyIndex;
import pcache.api.spi.KeySlice;
import pcache.api.spi.KeyValidity;
import pcache.keyindex.internal.StripedKeyIndexProvider;

/**
 * The key index alone, as a cached write uses it: find the slice, lock it, walk the write's range,
 * insert the write's key. {@link #insert4kRandom} at random 4 KiB offsets of a 16 GiB device (as
 * {@code EngineBench.fuaWrite4kRandom} writes), {@link #insert4kSequential} at consecutive ones:
 * the difference is what the index's memory costs when the slices written are not in the
 * processor's caches. The index starts empty each iteration.
 */
@Fork(jvmArgsAppend = {LaunchOptions.HEAP, LaunchOptions.PRETOUCH, LaunchOptions.GC_TIME})
public class IndexBench {

    static final int KIB4 = 4096;
    static final long LOGICAL = 16L << 30;

    /** An index of a 16 GiB device, emptied before each iteration. */
    @State(Scope.Benchmark)
    public static class Index {
        public KeyIndex index;

        @Setup(Level.Trial)
        public void open() {
            index = new StripedKeyIndexProvider().createIndex(LOGICAL);
        }

        @Setup(Level.Iteration)
        public void empty() {
            index.clear();
        }
    }

    /** What the write path does with a hit: look at the key (counts, so the look is not dropped). */
    @State(Scope.Thread)
    public static class Visitor implements ExtentVisitor {
        public long hits;
        public int segment;

        @Override
        public boolean hit(CacheKey key, long position, int length) {
            if (!key.isEmpty()) {
                hits += key.segment();
            }
            return true;
        }

        @Override
        public boolean gap(long position, int length) {
            return true;
        }
    }

    @Benchmark
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public void insert4kRandom(Index i, Visitor v, Cursor cursor) {
        insert(i.index, v, cursor.random(KIB4, LOGICAL));
    }

    @Benchmark
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public void insert4kSequential(Index i, Visitor v, Cursor cursor) {
        insert(i.index, v, cursor.sequential(KIB4, LOGICAL));
    }

    private static void insert(KeyIndex index, Visitor v, long offset) {
        CacheKey key = new CacheKey(offset, KIB4).place(v.segment++ & 1023, 0, 1);
        KeySlice slice = index.slice(offset);
        slice.lock();
        try {
            slice.walk(offset, KIB4, KeyValidity.ALL, v);
            slice.insert(key, KeyValidity.ALL);
        } finally {
            slice.unlock();
        }
    }
}
