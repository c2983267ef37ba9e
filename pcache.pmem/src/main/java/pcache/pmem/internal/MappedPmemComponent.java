package pcache.pmem.internal;

import java.io.IOException;
import java.nio.file.Path;

import org.osgi.service.component.annotations.Component;

import pcache.api.spi.PmemProvider;
import pcache.api.spi.PmemRegion;

/** Registers {@link MappedPmemProvider} (memory-mapped files (MappedByteBuffer; READ_WRITE_SYNC on DAX)) as the {@code mapped} {@link PmemProvider}. */
@Component(service = PmemProvider.class, property = PmemProvider.TYPE + "=" + MappedPmemProvider.TYPE,
        configurationPid = "pcache.pmem.mapped")
@org.osgi.service.metatype.annotations.Designate(ocd = MappedPmemComponent.Config.class)
public class MappedPmemComponent implements PmemProvider {

    @org.osgi.service.metatype.annotations.ObjectClassDefinition(name = "pcache mapped pmem",
            description = "Memory-mapped cache devices.")
    @interface Config {
        @org.osgi.service.metatype.annotations.AttributeDefinition(description = "When the pages of a cache"
                + " device are faulted in: none (on first use), background (after open), sync (before open"
                + " returns).")
        String prefault() default "background";
    }

    private volatile MappedPmemProvider provider = new MappedPmemProvider();

    @org.osgi.service.component.annotations.Activate
    @org.osgi.service.component.annotations.Modified
    void configure(Config config) {
        provider = new MappedPmemProvider(MappedPmemProvider.Prefault.parse(config.prefault()));
    }

    @Override
    public String type() {
        return provider.type();
    }

    @Override
    public PmemRegion open(Path path, long createSizeBytes) throws IOException {
        return provider.open(path, createSizeBytes);
    }
}
