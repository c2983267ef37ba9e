package pcache.pmem.internal;

import java.io.IOException;
import java.nio.file.Path;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

import pcache.api.spi.PmemProvider;
import pcache.api.spi.PmemRegion;
import pcache.io.log.Log;

/**
 * Maps cache devices into memory ({@code mapped}); see {@link MappedPmemRegion}. Registered by
 * Declarative Services as the {@code mapped} {@link PmemProvider}, configured through
 * {@value #PID} (when pages are faulted in).
 */
@Component(service = PmemProvider.class, property = PmemProvider.TYPE + "=" + MappedPmemProvider.TYPE,
        configurationPid = MappedPmemProvider.PID)
@Designate(ocd = MappedPmemProvider.Config.class)
public final class MappedPmemProvider implements PmemProvider {

    /** The configuration PID of the mapped provider. */
    static final String PID = "pcache.pmem.mapped";

    @ObjectClassDefinition(name = "pcache mapped pmem", description = "Memory-mapped cache devices.")
    @interface Config {
        @AttributeDefinition(description = "When the pages of a cache device are faulted in: none (on first"
                + " use), background (after open), sync (before open returns).")
        String prefault() default "background";
    }

    /** The value of {@link PmemProvider#TYPE}. */
    public static final String TYPE = "mapped";

    /** Size of each mapped buffer; {@code map} allows at most 2 GiB per buffer. */
    static final long DEFAULT_WINDOW_BYTES = 1L << 30;

    /** When the pages of a newly mapped device are faulted in. */
    public enum Prefault {
        /** Never: pages fault on first use, in the request path. */
        NONE,
        /** In a background thread after open (the default): the cache serves meanwhile. */
        BACKGROUND,
        /** Before open returns (start-up takes longer; benchmarks). */
        SYNC;

        /** Parses a configuration value, naming the accepted ones on error. */
        public static Prefault parse(String value) {
            for (Prefault p : values()) {
                if (p.name().equalsIgnoreCase(value == null ? "" : value.trim())) {
                    return p;
                }
            }
            throw new IllegalArgumentException("prefault '" + value + "': expected none, background or sync");
        }
    }

    private static final System.Logger LOG = Log.of(MappedPmemProvider.class);

    private final long windowBytes;
    private volatile Prefault prefault;

    public MappedPmemProvider() {
        this(DEFAULT_WINDOW_BYTES, Prefault.BACKGROUND);
    }

    public MappedPmemProvider(Prefault prefault) {
        this(DEFAULT_WINDOW_BYTES, prefault);
    }

    /** For tests: small windows put boundaries where a small file can cross them. */
    MappedPmemProvider(long windowBytes) {
        this(windowBytes, Prefault.NONE);
    }

    MappedPmemProvider(long windowBytes, Prefault prefault) {
        this.windowBytes = windowBytes;
        this.prefault = prefault;
    }

    /** Applies the configuration: regions opened from now on fault their pages in as it says. */
    @Activate
    @Modified
    void configure(Config config) {
        prefault = Prefault.parse(config.prefault());
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public PmemRegion open(Path path, long createSizeBytes) throws IOException {
        MappedPmemRegion region = MappedPmemRegion.open(path, createSizeBytes, windowBytes);
        switch (prefault) {
            case SYNC:
                prefault(region, path);
                break;
            case BACKGROUND:
                Thread t = new Thread(() -> prefault(region, path), "pcache-prefault-" + path.getFileName());
                t.setDaemon(true);
                t.setPriority(Thread.MIN_PRIORITY);
                t.start();
                break;
            default:
                break;
        }
        return region;
    }

    private static void prefault(MappedPmemRegion region, Path path) {
        long start = System.nanoTime();
        long pages = region.prefault();
        LOG.log(System.Logger.Level.DEBUG, "cache device {0}: {1} pages faulted in, {2} ms", path, pages,
                (System.nanoTime() - start) / 1_000_000L);
    }
}
