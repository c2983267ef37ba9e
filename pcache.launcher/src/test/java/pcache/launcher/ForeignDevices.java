package pcache.launcher;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * Cache devices that hold something other than a cache: a superblock whose magic is not
 * dm-pcache's, which the engine refuses to open (and does not format over).
 */
final class ForeignDevices {

    /** The superblock's place on a cache device (dm-pcache's layout: after the first 4 KiB). */
    private static final long SUPERBLOCK = 4096;
    /** What {@link #write} puts at the superblock: its magic and what follows, all ones. */
    private static final int FOREIGN_BYTES = 64;

    private ForeignDevices() {
    }

    /** Makes {@code device}, {@code sizeBytes} long (sparse), with a foreign superblock. */
    static Path write(Path device, long sizeBytes) throws IOException {
        try (FileChannel ch = FileChannel.open(device, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            byte[] foreign = new byte[FOREIGN_BYTES];
            Arrays.fill(foreign, (byte) 0xff);
            ch.write(ByteBuffer.wrap(foreign), SUPERBLOCK);
            ch.write(ByteBuffer.wrap(new byte[1]), sizeBytes - 1);
        }
        return device;
    }

    /**
     * Has {@code pcache} create the cache {@code name} on a cache device {@link #write} made in its
     * data directory: {@code pcache:create} fails (status 1), the cache's configuration stays.
     *
     * @return the cache device
     */
    static Path createCacheOn(PcacheProcess pcache, String name) throws IOException {
        Path device = write(pcache.dataDir().resolve(name + ".cache"), 512L << 20);
        PcacheProcess.CtlResult created = pcache.ctl("pcache:create " + name + " cache_dev=" + device
                + " backing=file:" + pcache.dataDir().resolve(name + ".backing") + " backing_size=64M");
        org.junit.jupiter.api.Assertions.assertEquals(1, created.status(), created.out() + created.err());
        return device;
    }

    /** Zeroes what {@link #write} put there: the device holds no cache again, and can be removed. */
    static void clear(Path device) throws IOException {
        try (FileChannel ch = FileChannel.open(device, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[FOREIGN_BYTES]), SUPERBLOCK);
        }
    }
}
