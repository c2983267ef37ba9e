package pcache.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import pcache.api.spi.PmemRegion;
import pcache.pmem.internal.MappedPmemProvider;

/**
 * pcache's own mapped region ({@link MappedPmemProvider}) over a file in memory, to measure what
 * the region adds to the raw mapping of {@link MappedFileState}. Pre-touched.
 */
@State(Scope.Benchmark)
public class PmemRegionState {

    public static final long SIZE_BYTES = 256L << 20;

    public Path file;
    public PmemRegion region;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        file = BenchFiles.newFile(BenchFiles.memoryDir(), "pcache-bench-region-");
        region = new MappedPmemProvider().open(file, SIZE_BYTES);
        region.fill(0, SIZE_BYTES, (byte) 0);
        System.err.println(region.description() + " on " + BenchFiles.fileSystemType(file));
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        region.close();
        Files.deleteIfExists(file);
    }
}
