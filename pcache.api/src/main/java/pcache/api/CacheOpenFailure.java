package pcache.api;

import org.osgi.annotation.versioning.ProviderType;

/**
 * Why a configured cache is not open: registered as an OSGi service (properties {@link #NAME},
 * {@link #REASON} and {@link #WAITS_FOR_BACKING}) when the cache's last attempt to open failed,
 * and withdrawn when it tries again, when it opens and when its configuration goes. So a tool
 * that waits for a cache's {@link CacheDevice} service can stop waiting, and say why, once the
 * cache has failed; without it, it can only wait for its time-out and point at the log.
 *
 * <p>A cache tries again by itself when a backing device is bound, if the failure was for want of
 * one (a new cache device to format, a dm-pcache image to pair with its device: either
 * {@link #waitsForBacking()}, or failed because every backing device it selects failed to open),
 * and when its configuration changes. Any other failure stays until then.
 *
 * @since 1.7
 */
@ProviderType
public interface CacheOpenFailure {

    /** Service property holding the cache's name, as on its {@link CacheDevice} service. */
    String NAME = CacheDevice.NAME;
    /** Service property holding {@link #reason()}. */
    String REASON = "pcache.cache.failure";
    /** Service property holding {@link #waitsForBacking()}, a {@code Boolean}. */
    String WAITS_FOR_BACKING = "pcache.cache.waits_for_backing";

    /** The cache's configured name. */
    String name();

    /**
     * Why the cache is not open, never null: what its open failed on, as the log's "cannot be
     * opened" line says it, or, when it {@linkplain #waitsForBacking() waits for its backing
     * device}, which device it waits for.
     */
    String reason();

    /**
     * Whether the cache failed for want of a backing device and opens by itself once one is bound
     * (a backing device that is still connecting, say): then it is opening rather than failed.
     * False when every configured backing device the cache selects failed to open (a file another
     * pcache holds, say): then the cache has failed, and its {@link #reason()} names those devices
     * and why; it still opens by itself once one of them is mended and bound.
     */
    boolean waitsForBacking();
}
