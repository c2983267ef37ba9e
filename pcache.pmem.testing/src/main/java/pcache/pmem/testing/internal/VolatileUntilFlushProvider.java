package pcache.pmem.testing.internal;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import org.osgi.service.component.annotations.Component;

import pcache.api.spi.PmemProvider;
import pcache.api.spi.PmemRegion;
import pcache.io.DeviceFiles;

/**
 * Opens cache devices as {@link VolatileUntilFlushRegion}s ({@value #TYPE}), for process-kill
 * tests only: this bundle is never part of the distribution; a test adds it to a copy of the
 * distribution's bundles and names it with {@code pmem = volatile-until-flush}.
 */
@Component(service = PmemProvider.class, property = PmemProvider.TYPE + "=" + VolatileUntilFlushProvider.TYPE)
public final class VolatileUntilFlushProvider implements PmemProvider {

    /** The value of {@link PmemProvider#TYPE}. */
    public static final String TYPE = "volatile-until-flush";

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public PmemRegion open(Path path, long createSizeBytes) throws IOException {
        if (createSizeBytes < 0) {
            throw new IllegalArgumentException("cache device " + path + ": negative create size " + createSizeBytes);
        }
        if (!Files.exists(path) && createSizeBytes == 0) {
            throw new NoSuchFileException(path.toString(), null,
                    "cache device does not exist; create it or give a size to create it with");
        }
        if (createSizeBytes > 0) {
            DeviceFiles.createSparse(path, createSizeBytes); // or sizes an empty file left by a cut-short creation
        }
        FileChannel channel = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            long size = DeviceFiles.deviceSize(channel, path);
            if (size <= 0) {
                throw new IOException("cache device " + path + " has size 0; give it a size first");
            }
            return new VolatileUntilFlushRegion(path, channel, size);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }
}
