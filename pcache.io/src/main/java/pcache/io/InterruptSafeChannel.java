package pcache.io;

import java.io.IOException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.util.Set;

import pcache.api.DeviceClosedException;

/**
 * A {@link FileChannel} that survives thread interrupts. A {@code FileChannel} closes itself for
 * every thread when one thread is interrupted during an I/O call, which would take the whole
 * device down because some request thread was cancelled. Here an operation that finds the
 * channel closed while the device is still open reopens it and runs again (operations must be
 * idempotent: positional reads and writes of the same bytes are); the caller's interrupt status
 * is kept and restored.
 */
public final class InterruptSafeChannel implements AutoCloseable {

    /** Reopens tolerated per operation, so a thread interrupted in a loop cannot spin forever. */
    private static final int MAX_REOPENS = 3;

    private final Path path;
    private final Set<? extends OpenOption> options;
    private final String device;
    /**
     * The file's identity (device and inode) when this was made, or null where the file system
     * gives none: a reopen must reach the same file, not one renamed over the path since.
     */
    private final Object fileKey;
    private volatile FileChannel channel;
    private volatile boolean closed;

    public InterruptSafeChannel(FileChannel channel, Path path, Set<? extends OpenOption> options,
            String device) {
        this.channel = channel;
        this.path = path;
        this.options = options;
        this.device = device;
        this.fileKey = fileKey(path);
    }

    /** {@code path}'s file identity, or null when it cannot be read. */
    private static Object fileKey(Path path) {
        try {
            return java.nio.file.Files.readAttributes(path, java.nio.file.attribute.BasicFileAttributes.class).fileKey();
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** One operation on the channel, repeatable from the start. */
    @FunctionalInterface
    public interface Operation<T> {
        T run(FileChannel channel) throws IOException;
    }

    public <T> T call(Operation<T> operation) throws IOException {
        return call(operation, false);
    }

    /**
     * {@link #call} for an operation that makes data durable ({@link FileChannel#force}): it is
     * not run again when the channel was closed under it. The sync cut off may have taken a
     * write-back error that the file reports only once (to the descriptor it was reported to),
     * and a sync on a reopened descriptor could then succeed over data the disk lost. So the
     * channel is reopened for the calls after it, and this one fails.
     */
    public <T> T callSyncing(Operation<T> operation) throws IOException {
        return call(operation, true);
    }

    private <T> T call(Operation<T> operation, boolean syncs) throws IOException {
        boolean interrupted = Thread.interrupted(); // run the I/O uninterrupted, restore after
        try {
            for (int reopens = 0;; reopens++) {
                FileChannel current = channel;
                try {
                    return operation.run(current);
                } catch (ClosedChannelException e) {
                    if (closed) {
                        throw new DeviceClosedException(device + " is closed");
                    }
                    interrupted |= e instanceof ClosedByInterruptException | Thread.interrupted();
                    if (syncs) {
                        reopen(current);
                        throw new IOException(device + ": a data sync was cut off (an interrupt closed the file"
                                + " under it); whether the data reached the disk is not known, so this sync fails:"
                                + " write the data again and sync", e);
                    }
                    if (reopens >= MAX_REOPENS) {
                        throw new IOException(device + ": channel closed repeatedly by interrupts",
                                e);
                    }
                    reopen(current);
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Opens the path again in place of {@code failed}. A file renamed over the path, or the path
     * removed, since the device opened it is refused: reads and writes would reach another file
     * than the one the device locked and checked (its identity, its size).
     */
    private synchronized void reopen(FileChannel failed) throws IOException {
        if (channel == failed && !closed) {
            FileChannel reopened = FileChannel.open(path, options);
            Object now = fileKey(path);
            if (fileKey != null && !fileKey.equals(now)) {
                reopened.close();
                throw new IOException(device + ": " + path + " is no longer the file this device opened (it was"
                        + " replaced or removed while open), so the device cannot reopen it after an interrupt closed"
                        + " its descriptor; put the file back, or stop and reopen the device on the file meant");
            }
            channel = reopened;
        }
    }

    public boolean isClosed() {
        return closed;
    }

    @Override
    public synchronized void close() throws IOException {
        closed = true;
        channel.close();
    }
}
