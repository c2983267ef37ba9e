package pcache.launcher;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * An exclusive lock on {@code <data>/pcache.lock}, held while the framework runs. Two processes
 * on one data directory would clean each other's framework storage and open the same cache
 * devices; the second one is refused instead. The operating system drops the lock when the
 * process dies, so a crash leaves nothing to clean up.
 */
public final class InstanceLock implements AutoCloseable {

    /** File name of the lock inside the data directory. */
    public static final String FILE_NAME = "pcache.lock";

    private final FileChannel channel;
    private final FileLock lock;

    private InstanceLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Takes the lock of {@code dataDir}, which must exist.
     *
     * @throws LaunchException if another process holds it or the file cannot be written
     */
    public static InstanceLock acquire(Path dataDir) throws LaunchException {
        Path file = dataDir.resolve(FILE_NAME);
        FileChannel channel = null;
        try {
            channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock = channel.tryLock();
            if (lock == null) {
                channel.close();
                throw new LaunchException("another pcache instance is running on " + dataDir
                        + ": stop it first, or talk to it with: pcache ctl \"COMMAND\"");
            }
            channel.truncate(0);
            channel.write(java.nio.ByteBuffer.wrap((ProcessHandle.current().pid() + "\n")
                    .getBytes(StandardCharsets.US_ASCII)));
            return new InstanceLock(channel, lock);
        } catch (OverlappingFileLockException e) {
            closeQuietly(channel);
            throw new LaunchException("this process already runs pcache on " + dataDir, e);
        } catch (IOException e) {
            closeQuietly(channel);
            throw new LaunchException("cannot lock " + file + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        try {
            lock.release();
        } catch (IOException e) {
            // closing the channel releases it too
        }
        closeQuietly(channel);
    }

    private static void closeQuietly(FileChannel c) {
        if (c != null) {
            try {
                c.close();
            } catch (IOException e) {
                // nothing left to do
            }
        }
    }
}
