package pcache.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
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
 * Write-back bandwidth (issue 3: "≥ 80 % of the backing file's sequential write bandwidth"):
 * {@link #drain} writes back {@code mib} MiB of sequentially written dirty data (1 MiB writes)
 * with dm-pcache's ordered policy; {@link #rawSequentialWrite} writes as many bytes to a file on
 * the same disk in 1 MiB writes followed by one data sync — the floor. Both single-shot, in the
 * same run; compare times (or MiB/s = mib / seconds).
 */
@State(Scope.Benchmark)
public class WritebackBench {

    static final int MIB = 1 << 20;

    @Param({"512"})
    public int mib;

    public EngineCache cache;
    public Path raw;
    public FileChannel rawChannel;
    private final ByteBuffer mebibyte = ByteBuffer.allocateDirect(MIB);

    @Setup(Level.Trial)
    public void open() throws IOException {
        cache = EngineCache.create(2L << 30, 4L << 30, false, false);
        raw = BenchFiles.newFile(BenchFiles.diskDir(), "pcache-bench-raw-");
        rawChannel = FileChannel.open(raw, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        for (int i = 0; i < MIB; i += 8) {
            mebibyte.putLong(i, i * 31L);
        }
    }

    /** A fresh cache holding {@code mib} MiB of dirty data, write-back off. */
    @Setup(Level.Iteration)
    public void fill() throws IOException {
        cache.writeback(false);
        cache.reformat();
        for (long off = 0; off < (long) mib * MIB; off += MIB) {
            mebibyte.clear();
            cache.engine.write(off, mebibyte, false);
        }
        cache.engine.flush();
    }

    @TearDown(Level.Trial)
    public void close() throws IOException {
        cache.close();
        rawChannel.close();
        Files.deleteIfExists(raw);
    }

    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public void drain() throws IOException {
        cache.drain();
    }

    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public void rawSequentialWrite() throws IOException {
        for (long off = 0; off < (long) mib * MIB; off += MIB) {
            mebibyte.clear();
            while (mebibyte.hasRemaining()) {
                rawChannel.write(mebibyte, off + mebibyte.position());
            }
        }
        rawChannel.force(false);
    }
}
