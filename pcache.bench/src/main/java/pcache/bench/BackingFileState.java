package pcache.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import pcache.backing.file.internal.FileBackingDevice;
import pcache.backing.file.internal.FileBackingSettings;

/**
 * A backing file on a real disk ({@value BenchFiles#DISK_DIR_PROPERTY}, else java.io.tmpdir),
 * fully written once so that writes measure the disk, not block allocation. Reached both as a
 * raw {@link FileChannel} (the floor) and as pcache's {@link FileBackingDevice}.
 */
@State(Scope.Benchmark)
public class BackingFileState {

    public static final long SIZE_BYTES = 256L << 20;

    public Path file;
    public FileChannel channel;
    public FileBackingDevice device;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        file = BenchFiles.newFile(BenchFiles.diskDir(), "pcache-bench-backing-");
        channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        ByteBuffer zeroes = ByteBuffer.allocateDirect(1 << 20);
        for (long at = 0; at < SIZE_BYTES; at += zeroes.capacity()) {
            zeroes.clear();
            while (zeroes.hasRemaining()) {
                channel.write(zeroes, at + zeroes.position());
            }
        }
        channel.force(true);
        device = FileBackingDevice.open(FileBackingSettings.of("bench", file.toString()));
        System.err.println("backing file " + file + " on " + BenchFiles.fileSystemType(file));
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        device.close();
        channel.close();
        Files.deleteIfExists(file);
    }
}
