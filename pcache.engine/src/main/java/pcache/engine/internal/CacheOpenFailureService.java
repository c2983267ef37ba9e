package pcache.engine.internal;

import java.util.Map;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;

import pcache.api.CacheOpenFailure;

/**
 * The registered {@link CacheOpenFailure} of a configured cache whose last open failed. A DS
 * factory component ({@value #FACTORY}), for the reason {@link CacheDeviceService} is one:
 * {@link PcacheTargetComponent} creates an instance with the service properties when an open
 * fails and disposes it when the cache tries again, opens or is deactivated.
 */
@Component(factory = CacheOpenFailureService.FACTORY, service = CacheOpenFailure.class,
        configurationPolicy = ConfigurationPolicy.IGNORE)
public final class CacheOpenFailureService implements CacheOpenFailure {

    /** The {@code component.factory} of this component. */
    public static final String FACTORY = "pcache.cache.open.failure";

    private final String name;
    private final String reason;
    private final boolean waitsForBacking;

    /** Serves what the properties {@value #NAME}, {@value #REASON} and {@value #WAITS_FOR_BACKING} say. */
    @Activate
    public CacheOpenFailureService(Map<String, Object> properties) {
        Object n = properties.get(NAME);
        Object r = properties.get(REASON);
        if (!(n instanceof String named) || !(r instanceof String why)) {
            throw new IllegalArgumentException(FACTORY + ": an instance needs the cache's name in " + NAME
                    + " and the reason in " + REASON + ", not " + n + " and " + r);
        }
        this.name = named;
        this.reason = why;
        this.waitsForBacking = Boolean.TRUE.equals(properties.get(WAITS_FOR_BACKING));
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String reason() {
        return reason;
    }

    @Override
    public boolean waitsForBacking() {
        return waitsForBacking;
    }

    @Override
    public String toString() {
        return "cache " + name + (waitsForBacking ? " is not open: " : " cannot be opened: ") + reason;
    }
}
