package pcache.pmem.internal;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.osgi.service.component.annotations.Component;

import pcache.api.spi.PmemProvider;
import pcache.api.spi.PmemRegion;

/**
 * Volatile cache devices in heap memory ({@code heap}), for tests. The path is only a name: this
 * provider keeps one store per name, so closing a region and opening the same name again gives
 * the same bytes (a restart without power loss). Nothing survives the provider instance.
 * Registered by Declarative Services as the {@code heap} {@link PmemProvider}; immediate, so that
 * the instance, which holds the devices' bytes, lives as long as the bundle instead of being
 * dropped whenever no cache uses it.
 */
@Component(service = PmemProvider.class, immediate = true,
        property = PmemProvider.TYPE + "=" + HeapPmemProvider.TYPE)
public final class HeapPmemProvider implements PmemProvider {

    /** The value of {@link PmemProvider#TYPE}. */
    public static final String TYPE = "heap";

    private final ConcurrentMap<Path, HeapStore> stores = new ConcurrentHashMap<>();

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public PmemRegion open(Path path, long createSizeBytes) throws IOException {
        if (createSizeBytes < 0) {
            throw new IllegalArgumentException("cache device " + path + ": negative create size "
                    + createSizeBytes);
        }
        Path name = path.toAbsolutePath().normalize();
        HeapStore store = stores.get(name);
        if (store == null) {
            if (createSizeBytes == 0) {
                throw new NoSuchFileException(name.toString(), null,
                        "no heap cache device of this name; give a size to create it");
            }
            store = stores.computeIfAbsent(name, n -> new HeapStore(createSizeBytes));
        }
        return new HeapPmemRegion(name.toString(), store);
    }

    /** Forgets the device named {@code path}, like removing its file. */
    public boolean delete(Path path) {
        return stores.remove(path.toAbsolutePath().normalize()) != null;
    }
}
