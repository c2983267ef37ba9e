package pcache.webconsole.internal;

import java.util.Locale;

import pcache.api.CacheDevice;
import pcache.api.CacheStatistics;
import pcache.api.CacheStatus;

/**
 * One cache as the pcache page shows it: the same values {@code pcache:status} and
 * {@code pcache:stats} print (mode, state, backing device and its state, dirty bytes, segments
 * used, hit ratio, write-back progress) and the counters the page's chart turns into throughput.
 *
 * @param name the cache's name
 * @param mode writeback, writethrough or passthrough
 * @param clean whether nothing is left to write back
 * @param backing the bound backing device
 * @param backingState its state (online, reconnecting, unavailable, failing)
 * @param dirtyBytes bytes not yet written back
 * @param dirtyPercent of the data capacity
 * @param segmentsUsed segments in use
 * @param segmentsTotal segments owned by the cache
 * @param readRequests read requests so far
 * @param readHits of them, served from the cache entirely
 * @param bytesRead bytes returned to readers so far
 * @param bytesWritten bytes written by clients so far
 * @param writebackBytes bytes written back so far
 * @param writebackKsets key sets written back so far
 * @param writebackErrors failed write-back attempts so far
 */
record CacheRow(String name, String mode, boolean clean, String backing, String backingState, long dirtyBytes,
        double dirtyPercent, int segmentsUsed, int segmentsTotal, long readRequests, long readHits, long bytesRead,
        long bytesWritten, long writebackBytes, long writebackKsets, long writebackErrors) {

    /** The row of an open cache. */
    static CacheRow of(CacheDevice cache) {
        CacheStatus s = cache.status();
        CacheStatistics st = cache.statistics();
        return new CacheRow(s.name(), s.mode().configName(), s.clean(), s.backing(),
                s.backingState().name().toLowerCase(Locale.ROOT), st.dirtyBytes(), st.dirtyPercent(),
                s.segsUsed(), s.cacheSegs(), st.readRequests(), st.readHits(), st.bytesRead(), st.bytesWritten(),
                st.writebackBytes(), st.writebackKsets(), st.writebackErrors());
    }

    /** The hit ratio as {@code pcache:stats} prints it: {@code 97.5 %}, or {@code -} before any read. */
    String hitRatio() {
        return readRequests == 0 ? "-" : String.format(Locale.ROOT, "%.1f %%", 100.0 * readHits / readRequests);
    }

    /** This row as a JSON object. */
    String toJson() {
        return new StringBuilder("{").append(Json.field("name", name)).append(',')
                .append(Json.field("mode", mode)).append(',')
                .append(Json.field("state", clean ? "clean" : "dirty")).append(',')
                .append(Json.field("backing", backing)).append(',')
                .append(Json.field("backingState", backingState)).append(',')
                .append(Json.field("dirtyBytes", dirtyBytes)).append(',')
                .append(Json.field("dirtyPercent", Math.round(dirtyPercent * 10) / 10.0)).append(',')
                .append(Json.field("segmentsUsed", segmentsUsed)).append(',')
                .append(Json.field("segmentsTotal", segmentsTotal)).append(',')
                .append(Json.field("hitRatio", hitRatio())).append(',')
                .append(Json.field("readRequests", readRequests)).append(',')
                .append(Json.field("bytesRead", bytesRead)).append(',')
                .append(Json.field("bytesWritten", bytesWritten)).append(',')
                .append(Json.field("writebackBytes", writebackBytes)).append(',')
                .append(Json.field("writebackKsets", writebackKsets)).append(',')
                .append(Json.field("writebackErrors", writebackErrors)).append('}').toString();
    }
}
