package pcache.health.internal;

import java.lang.reflect.Proxy;

import pcache.api.BackingState;
import pcache.api.CacheConditions;
import pcache.api.CacheDevice;
import pcache.api.CacheMode;
import pcache.api.CachePos;
import pcache.api.CacheStatistics;
import pcache.api.CacheStatus;

/** Fake caches for the checks: views with the values a test sets, and cache devices answering with them. */
final class Views {

    static final String BACKING = "nbd://10.0.0.5:10809/disk";

    private Views() {
    }

    static CacheStatus status(String name, BackingState state, boolean dataCrc) {
        CachePos pos = new CachePos(0, 0);
        return new CacheStatus(name, 0, 32, 32, 3, 70, 0x2, pos, pos, pos, CacheMode.WRITEBACK, dataCrc, state, BACKING,
                "/data/" + name + ".cache (mapped)");
    }

    /**
     * Statistics of a 32-segment cache with the values that matter to the checks.
     */
    static CacheStatistics statistics(long dirtyBytes, long writebackErrors, long crcErrors, long crcRecovered,
            long quarantined, long backingErrors) {
        return new CacheStatistics(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, dirtyBytes, 0, 3, 32, 0, 0, writebackErrors, 0, 0,
                crcErrors, crcRecovered, quarantined, backingErrors);
    }

    static CacheView healthy(String name) {
        return new CacheView(name, status(name, BackingState.ONLINE, true), statistics(0, 0, 0, 0, 0, 0),
                CacheConditions.NONE);
    }

    static CacheView withState(String name, BackingState state) {
        return new CacheView(name, status(name, state, true), statistics(0, 0, 0, 0, 0, 7), CacheConditions.NONE);
    }

    static CacheView withStatistics(String name, CacheStatistics statistics) {
        return new CacheView(name, status(name, BackingState.ONLINE, true), statistics, CacheConditions.NONE);
    }

    static CacheView withConditions(String name, CacheConditions conditions) {
        return new CacheView(name, status(name, BackingState.ONLINE, true), statistics(0, 2, 0, 0, 0, 0), conditions);
    }

    /** A cache device answering with {@code view}'s values; {@code closing} makes it throw as a closing cache does. */
    static CacheDevice device(CacheView view, boolean closing) {
        return (CacheDevice) Proxy.newProxyInstance(Views.class.getClassLoader(), new Class<?>[] {CacheDevice.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "name" -> view.name();
                    case "status" -> {
                        if (closing) {
                            throw new IllegalStateException("cache " + view.name() + " is closed");
                        }
                        yield view.status();
                    }
                    case "statistics" -> view.statistics();
                    case "conditions" -> view.conditions();
                    case "toString" -> "fake " + view.name();
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }
}
