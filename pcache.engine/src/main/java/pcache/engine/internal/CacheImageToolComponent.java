package pcache.engine.internal;

import java.io.IOException;
import java.nio.file.Path;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

import pcache.api.CacheImageTool;
import pcache.api.spi.CrcProvider;
import pcache.engine.internal.image.ImageInspector;

/**
 * Registers the offline {@link CacheImageTool} ({@link ImageInspector}) with dm-pcache's CRC. It
 * needs no configuration and opens images read-only, without the lock a running cache holds.
 */
@Component(service = CacheImageTool.class)
public final class CacheImageToolComponent implements CacheImageTool {

    private final ImageInspector inspector;

    @Activate
    public CacheImageToolComponent(
            @Reference(target = "(" + CrcProvider.ALGORITHM + "=" + CrcProvider.PCACHE_CRC32C + ")") CrcProvider crc) {
        this.inspector = new ImageInspector(crc);
    }

    @Override
    public String inspect(Path cacheDevice, boolean keys) throws IOException {
        return inspector.inspect(cacheDevice, keys);
    }

    @Override
    public FsckReport fsck(Path cacheDevice) throws IOException {
        return inspector.fsck(cacheDevice);
    }
}
