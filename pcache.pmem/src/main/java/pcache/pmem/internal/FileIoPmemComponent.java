package pcache.pmem.internal;

import java.io.IOException;
import java.nio.file.Path;

import org.osgi.service.component.annotations.Component;

import pcache.api.spi.PmemProvider;
import pcache.api.spi.PmemRegion;

/** Registers {@link FileIoPmemProvider} (positional file I/O with fdatasync on fence) as the {@code fileio} {@link PmemProvider}. */
@Component(service = PmemProvider.class, property = PmemProvider.TYPE + "=" + FileIoPmemProvider.TYPE)
public class FileIoPmemComponent implements PmemProvider {

    private final FileIoPmemProvider provider = new FileIoPmemProvider();

    @Override
    public String type() {
        return provider.type();
    }

    @Override
    public PmemRegion open(Path path, long createSizeBytes) throws IOException {
        return provider.open(path, createSizeBytes);
    }
}
