package pcache.api.config;

/** The ConfigAdmin PIDs pcache's configurations use. */
public final class ConfigPids {

    /** Factory PID of a cache ({@code pcache.target}); one factory configuration per cache, named after it. */
    public static final String TARGET = "pcache.target";
    /** Factory PID of a backing device on a file or block device. */
    public static final String BACKING_FILE = "pcache.backing.file";
    /** Factory PID of a backing device on an NBD export. */
    public static final String BACKING_NBD = "pcache.backing.nbd";
    /** PID of the NBD export (a singleton configuration). */
    public static final String EXPORT_NBD = "pcache.export.nbd";
    /** The NBD export's property: its listen addresses, separated by commas. */
    public static final String EXPORT_NBD_LISTEN = "listen";

    private ConfigPids() {
    }
}
