package pcache.health.internal;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import pcache.api.CacheConditions;
import pcache.api.CacheDevice;
import pcache.api.CacheStatistics;
import pcache.api.CacheStatus;
import pcache.io.log.Log;

/**
 * What the checks read of one open cache, read once per check: its status, statistics and
 * conditions.
 *
 * @param name the cache's name
 * @param status its status
 * @param statistics its counters
 * @param conditions what needs attention now
 */
record CacheView(String name, CacheStatus status, CacheStatistics statistics, CacheConditions conditions) {

    private static final System.Logger LOG = Log.of(CacheView.class);

    /**
     * The views of {@code caches}, sorted by name. A cache that is closing while it is asked is
     * left out (it is no longer open: the cache-device check reports a configured cache that is
     * not open).
     */
    static List<CacheView> of(List<CacheDevice> caches) {
        List<CacheView> views = new ArrayList<>();
        if (caches == null) {
            return views;
        }
        for (CacheDevice cache : caches) {
            try {
                views.add(new CacheView(cache.name(), cache.status(), cache.statistics(), cache.conditions()));
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.DEBUG, "health: cache {0} left out: {1}", cache.name(), e.toString());
            }
        }
        views.sort(Comparator.comparing(CacheView::name));
        return views;
    }
}
