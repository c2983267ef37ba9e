package pcache.api.config;

/**
 * The configuration of pcache's health checks (PID {@value #PID}, a singleton configuration):
 * its property, default and range, and the one parser the launcher and the checks use.
 *
 * @since 1.2
 */
public final class HealthProperties {

    /** PID of the health checks' configuration. */
    public static final String PID = "pcache.health";
    /** The dirty-data check warns when a cache's dirty share of its data capacity is above this percentage. */
    public static final String DIRTY_WARN_PERCENT = "dirty_warn_percent";
    /** Default of {@value #DIRTY_WARN_PERCENT}. */
    public static final int DIRTY_WARN_PERCENT_DEFAULT = 80;
    /** Lowest {@value #DIRTY_WARN_PERCENT}: warn about any dirty byte. */
    public static final int DIRTY_WARN_PERCENT_MIN = 0;
    /** Highest {@value #DIRTY_WARN_PERCENT}: never warn. */
    public static final int DIRTY_WARN_PERCENT_MAX = 100;
    /** What a value of {@value #DIRTY_WARN_PERCENT} looks like, for messages. */
    public static final String DIRTY_WARN_PERCENT_EXPECTED = "a whole percentage from " + DIRTY_WARN_PERCENT_MIN
            + " to " + DIRTY_WARN_PERCENT_MAX + " (of a cache's data capacity; " + DIRTY_WARN_PERCENT_MAX
            + " never warns)";

    private HealthProperties() {
    }

    /**
     * Parses {@value #DIRTY_WARN_PERCENT}.
     *
     * @throws IllegalArgumentException with {@link #DIRTY_WARN_PERCENT_EXPECTED} when it is not one
     */
    public static int dirtyWarnPercent(String value) {
        try {
            int percent = Integer.parseInt(value.trim());
            if (percent >= DIRTY_WARN_PERCENT_MIN && percent <= DIRTY_WARN_PERCENT_MAX) {
                return percent;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(DIRTY_WARN_PERCENT_EXPECTED);
    }
}
