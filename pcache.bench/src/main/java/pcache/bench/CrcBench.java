package pcache.bench;

import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;

import pcache.crc.internal.PcacheCrc32c;

/**
 * dm-pcache's CRC ({@link pcache.crc.internal.PcacheCrc32c}) against the JDK's intrinsified
 * {@link CRC32C}, which it is built on: the difference is the cost of the seed correction.
 * Throughput in operations per second; the {@code bytes} counter gives bytes per second.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class CrcBench {

    @Benchmark
    public int pcacheCrc(CrcState state, ByteCounter counter) {
        counter.bytes += state.size;
        return state.heap() ? state.pcache.checksum(state.array, 0, state.size)
                : state.pcache.checksum(state.direct);
    }

    /**
     * Only the seed correction, the one step {@code pcacheCrc} adds to {@code jdkCrc32c} (besides a
     * buffer duplicate for direct input). Its cost in ns next to the others' shows the ratio
     * without the noise of two separate runs.
     */
    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public int seedCorrection(CrcState state) {
        return PcacheCrc32c.zeroRunTerm(state.size);
    }

    @Benchmark
    public long jdkCrc32c(CrcState state, ByteCounter counter) {
        counter.bytes += state.size;
        CRC32C crc = new CRC32C();
        if (state.heap()) {
            crc.update(state.array, 0, state.size);
        } else {
            crc.update(state.direct);
            state.direct.rewind();
        }
        return crc.getValue();
    }
}
