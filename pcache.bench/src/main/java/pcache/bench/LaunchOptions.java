package pcache.bench;

import java.util.List;

/**
 * The JVM options {@code ./pcache} starts pcache with (README, "JVM options"), for the benchmarks
 * that start pcache themselves: {@link EngineBench}'s forks and the NBD harness's pcache process.
 * Kept equal to the defaults in the {@code pcache} script.
 */
public final class LaunchOptions {

    /** A heap of at least 1 GiB ... */
    public static final String HEAP = "-Xms1g";
    /** ... whose memory is touched at start. */
    public static final String PRETOUCH = "-XX:+AlwaysPreTouch";
    /** ... and a collector that spends up to a fifth of its time collecting before it grows the heap. */
    public static final String GC_TIME = "-XX:GCTimeRatio=4";
    /** All of them, in order. */
    public static final List<String> ALL = List.of(HEAP, PRETOUCH, GC_TIME);

    private LaunchOptions() {
    }
}
