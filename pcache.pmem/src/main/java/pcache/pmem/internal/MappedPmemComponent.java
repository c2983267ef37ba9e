package pcache.pmem.internal;

import java.io.IOException;
import java.nio.file.Path;

import org.osgi.service.component.annotations.Component;

import pcache.api.spi.PmemProvider;
import pcache.api.spi.PmemRegion;

/** Registers {@link MappedPmemProvider} (memory-mapped files (MappedByteBuffer; READ_WRITE_SYNC on DAX)) as the {@code mapped} {@link PmemProvider}. */
@Component(service = PmemProvider.class, property = PmemProvider.TYPE + "=" + MappedPmemProvider.TYPE)
public class MappedPmemComponent implements PmemProvider {

    private final MappedPmemProvider provider = new MappedPmemProvider();

    @Override
    public String type() {
        return provider.type();
    }

    @Override
    public PmemRegion open(Path path, long createSizeBytes) throws IOException {
        return provider.open(path, createSizeBytes);
    }
}
