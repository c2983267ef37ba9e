package pcache.api;

/** How a cache treats writes. */
public enum CacheMode {
    /**
     * Writes are acknowledged once durable in the cache and written back later, in log order
     * (dm-pcache's only mode). Reads are cached.
     */
    WRITEBACK,
    /**
     * Writes are acknowledged only after they are also written to the backing device (and, for
     * FUA writes and flushes, flushed there), so the backing device always holds every
     * acknowledged byte. Reads are cached.
     */
    WRITETHROUGH,
    /**
     * The cache is empty and bypassed: reads, writes and flushes go straight to the backing
     * device. Entered only after a full drain; the state to remove a cache safely.
     */
    PASSTHROUGH;

    /** The lower-case name used in configuration and in the shell. */
    public String configName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /**
     * Parses a configuration value (case-insensitive).
     *
     * @throws IllegalArgumentException naming the accepted values
     */
    public static CacheMode parse(String value) {
        for (CacheMode m : values()) {
            if (m.configName().equalsIgnoreCase(value == null ? "" : value.trim())) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown cache mode '" + value
                + "': expected writeback, writethrough or passthrough");
    }
}
