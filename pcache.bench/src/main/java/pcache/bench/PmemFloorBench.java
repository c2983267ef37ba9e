package pcache.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;

/**
 * The floors the cache engine is measured against: what the JDK alone does with a mapped cache
 * device in memory and a backing file on disk, with no pcache code in between (the {@code ours*}
 * benchmarks add pcache's region and backing device on top, to show their overhead).
 *
 * <ul>
 * <li>(a) {@link #mapped4kCopyForce}: copy 4 KiB into the mapping and force that range: the
 * latency floor of a cached 4 KiB write (sample mode: read the p0.50).</li>
 * <li>(b) {@link #mapped1MiBCopy}: sequential 1 MiB copies into the mapping: the copy floor.</li>
 * <li>(c) {@link #backing4kRandomWriteSync}: 4 KiB random write + {@code force(false)} per write
 * on the backing file: the IOPS floor of write-through / FUA.</li>
 * <li>(c') {@link #backingFlushInterval32x4k}: 32 random 4 KiB writes, then one
 * {@code force(false)}: what ordered write-back pays per client flush of a client that flushes
 * every 32 random 4 KiB writes ({@code fio --fsync=32}); ops/s = client flush intervals per second
 * the backing file absorbs. {@link #oursFlushInterval32x4k}: the same through pcache's
 * {@link pcache.backing.file.internal.FileBackingDevice}, as write-back sends it.</li>
 * <li>(d) {@link #backing1MiBSequentialWrite}: sequential 1 MiB writes to the backing file (page
 * cache), and {@link #backing1MiBSequentialWriteSync} with a data sync after each.</li>
 * </ul>
 */
public class PmemFloorBench {

    private static final int KIB4 = 4096;
    private static final int MIB = 1 << 20;

    /** The data written: a 4 KiB and a 1 MiB pattern, heap and direct. */
    @State(Scope.Thread)
    public static class Payload {
        public final byte[] page = pattern(KIB4);
        public final byte[] mebibyte = pattern(MIB);
        public final ByteBuffer directPage = ByteBuffer.allocateDirect(KIB4).put(pattern(KIB4)).flip();
        public final ByteBuffer directMebibyte = ByteBuffer.allocateDirect(MIB).put(pattern(MIB)).flip();

        private static byte[] pattern(int size) {
            byte[] bytes = new byte[size];
            for (int i = 0; i < size; i++) {
                bytes[i] = (byte) (i * 31 + 7);
            }
            return bytes;
        }
    }

    @Benchmark
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public void mapped4kCopyForce(MappedFileState mapped, Payload payload, Cursor cursor) {
        int at = (int) cursor.sequential(KIB4, MappedFileState.SIZE_BYTES);
        mapped.buffer.put(at, payload.page, 0, KIB4);
        mapped.buffer.force(at, KIB4);
    }

    @Benchmark
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public void ours4kRegionWriteFlushFence(PmemRegionState pmem, Payload payload, Cursor cursor)
            throws IOException {
        long at = cursor.sequential(KIB4, PmemRegionState.SIZE_BYTES);
        pmem.region.write(at, payload.page, 0, KIB4);
        pmem.region.flush(at, KIB4);
        pmem.region.fence();
    }

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public void mapped1MiBCopy(MappedFileState mapped, Payload payload, Cursor cursor,
            ByteCounter counter) {
        int at = (int) cursor.sequential(MIB, MappedFileState.SIZE_BYTES);
        mapped.buffer.put(at, payload.mebibyte, 0, MIB);
        counter.bytes += MIB;
    }

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public void backing4kRandomWriteSync(BackingFileState backing, Payload payload, Cursor cursor)
            throws IOException {
        long at = cursor.random(KIB4, BackingFileState.SIZE_BYTES);
        ByteBuffer page = payload.directPage.clear();
        while (page.hasRemaining()) {
            backing.channel.write(page, at + page.position());
        }
        backing.channel.force(false);
    }

    /** Writes per client flush in {@link #backingFlushInterval32x4k}. */
    private static final int WRITES_PER_FLUSH = 32;

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public void backingFlushInterval32x4k(BackingFileState backing, Payload payload, Cursor cursor)
            throws IOException {
        for (int i = 0; i < WRITES_PER_FLUSH; i++) {
            long at = cursor.random(KIB4, BackingFileState.SIZE_BYTES);
            ByteBuffer page = payload.directPage.clear();
            while (page.hasRemaining()) {
                backing.channel.write(page, at + page.position());
            }
        }
        backing.channel.force(false);
    }

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public void oursFlushInterval32x4k(BackingFileState backing, Payload payload, Cursor cursor)
            throws IOException {
        for (int i = 0; i < WRITES_PER_FLUSH; i++) {
            backing.device.write(cursor.random(KIB4, BackingFileState.SIZE_BYTES), payload.directPage.clear(), false);
        }
        backing.device.flush();
    }

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public void ours4kBackingDeviceWriteFua(BackingFileState backing, Payload payload,
            Cursor cursor) throws IOException {
        long at = cursor.random(KIB4, BackingFileState.SIZE_BYTES);
        backing.device.write(at, payload.directPage.clear(), true);
    }

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public void backing1MiBSequentialWrite(BackingFileState backing, Payload payload,
            Cursor cursor, ByteCounter counter) throws IOException {
        writeMebibyte(backing, payload, cursor);
        counter.bytes += MIB;
    }

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public void backing1MiBSequentialWriteSync(BackingFileState backing, Payload payload,
            Cursor cursor, ByteCounter counter) throws IOException {
        writeMebibyte(backing, payload, cursor);
        backing.channel.force(false);
        counter.bytes += MIB;
    }

    private static void writeMebibyte(BackingFileState backing, Payload payload, Cursor cursor)
            throws IOException {
        long at = cursor.sequential(MIB, BackingFileState.SIZE_BYTES);
        ByteBuffer data = payload.directMebibyte.clear();
        while (data.hasRemaining()) {
            backing.channel.write(data, at + data.position());
        }
    }
}
