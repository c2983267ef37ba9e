package pcache.pmem.internal;

import java.io.IOException;
import java.nio.file.Path;
import org.osgi.service.component.annotations.Component;

import pcache.api.spi.PmemProvider;
import pcache.api.spi.PmemRegion;

/**
 * Reaches cache devices with positional file I/O ({@code fileio}); see {@link FileIoPmemRegion}.
 * Registered by Declarative Services as the {@code fileio} {@link PmemProvider}.
 */
@Component(service = PmemProvider.class, property = PmemProvider.TYPE + "=" + FileIoPmemProvider.TYPE)
public final class FileIoPmemProvider implements PmemProvider {

    /** The value of {@link PmemProvider#TYPE}. */
    public static final String TYPE = "fileio";

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public PmemRegion open(Path path, long createSizeBytes) throws IOException {
        return FileIoPmemRegion.open(path, createSizeBytes);
    }
}
