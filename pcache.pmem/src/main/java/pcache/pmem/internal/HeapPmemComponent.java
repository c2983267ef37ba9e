package pcache.pmem.internal;

import java.io.IOException;
import java.nio.file.Path;

import org.osgi.service.component.annotations.Component;

import pcache.api.spi.PmemProvider;
import pcache.api.spi.PmemRegion;

/**
 * Registers {@link HeapPmemProvider} (volatile heap memory, for tests) as the {@code heap}
 * {@link PmemProvider}. Immediate, so that the instance, which holds the devices' bytes, lives as
 * long as the bundle instead of being dropped whenever no cache uses it.
 */
@Component(service = PmemProvider.class, immediate = true,
        property = PmemProvider.TYPE + "=" + HeapPmemProvider.TYPE)
public class HeapPmemComponent implements PmemProvider {

    private final HeapPmemProvider provider = new HeapPmemProvider();

    @Override
    public String type() {
        return provider.type();
    }

    @Override
    public PmemRegion open(Path path, long createSizeBytes) throws IOException {
        return provider.open(path, createSizeBytes);
    }
}
