package pcache.pmem.internal;

import java.io.IOException;
import java.nio.file.Path;

import pcache.api.spi.PmemProvider;
import pcache.api.spi.PmemRegion;

/** Maps cache devices into memory ({@code mapped}); see {@link MappedPmemRegion}. */
public final class MappedPmemProvider implements PmemProvider {

    /** The value of {@link PmemProvider#TYPE}. */
    public static final String TYPE = "mapped";

    /** Size of each mapped buffer; {@code map} allows at most 2 GiB per buffer. */
    static final long DEFAULT_WINDOW_BYTES = 1L << 30;

    private final long windowBytes;

    public MappedPmemProvider() {
        this(DEFAULT_WINDOW_BYTES);
    }

    /** For tests: small windows put boundaries where a small file can cross them. */
    MappedPmemProvider(long windowBytes) {
        this.windowBytes = windowBytes;
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public PmemRegion open(Path path, long createSizeBytes) throws IOException {
        return MappedPmemRegion.open(path, createSizeBytes, windowBytes);
    }
}
