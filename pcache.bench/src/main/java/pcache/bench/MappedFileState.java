package pcache.bench;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * A plain {@link MappedByteBuffer} over a file in memory (/dev/shm, else java.io.tmpdir): the
 * raw JDK mapping the pmem floors are measured on. Pre-touched, so no page fault is measured.
 */
@State(Scope.Benchmark)
public class MappedFileState {

    /** Size of the mapped file: 16 segments of 16 MiB. */
    public static final int SIZE_BYTES = 256 << 20;

    public Path file;
    public MappedByteBuffer buffer;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        file = BenchFiles.newFile(BenchFiles.memoryDir(), "pcache-bench-mapped-");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(SIZE_BYTES);
        }
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            buffer = channel.map(FileChannel.MapMode.READ_WRITE, 0, SIZE_BYTES);
        }
        byte[] page = new byte[4096];
        for (int at = 0; at < SIZE_BYTES; at += page.length) {
            buffer.put(at, page);
        }
        System.err.println("mapped file " + file + " on " + BenchFiles.fileSystemType(file));
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        buffer = null; // the mapping goes with the buffer; the file can go now
        Files.deleteIfExists(file);
    }
}
