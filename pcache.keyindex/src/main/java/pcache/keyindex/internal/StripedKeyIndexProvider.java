package pcache.keyindex.internal;

import org.osgi.service.component.annotations.Component;

import pcache.api.spi.KeyIndex;
import pcache.api.spi.KeyIndexProvider;
import pcache.api.spi.KeyLog;
import pcache.api.spi.KeyLogContext;

/** Registers the striped index and the pmem key log as {@code pcache.keyindex.name=striped}. */
@Component(service = KeyIndexProvider.class,
        property = KeyIndexProvider.NAME + "=" + StripedKeyIndexProvider.NAME_VALUE)
public final class StripedKeyIndexProvider implements KeyIndexProvider {

    static final String NAME_VALUE = "striped";

    @Override
    public String name() {
        return NAME_VALUE;
    }

    @Override
    public KeyIndex createIndex(long logicalSizeBytes) {
        return new StripedKeyIndex(logicalSizeBytes);
    }

    @Override
    public KeyLog openLog(KeyLogContext context) {
        return new PmemKeyLog(context);
    }
}
