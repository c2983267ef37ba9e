package pcache.health.internal;

/** The tag of every pcache health check: {@code hc:exec} and {@code /system/health} run these. */
final class HealthTags {

    /** The tag {@code pcache}. */
    static final String PCACHE = "pcache";

    private HealthTags() {
    }
}
