package pcache.api.config;

/**
 * Property names of a backing-device configuration (factory PIDs {@value ConfigPids#BACKING_FILE}
 * and {@value ConfigPids#BACKING_NBD}).
 */
public final class BackingProperties {

    /** The device's name, registered as {@code pcache.api.spi.BackingDevice.NAME}; a cache's {@code backing.target} selects it. */
    public static final String NAME = "name";
    /** File backing: the absolute path of the file or block device. */
    public static final String PATH = "path";
    /** File backing: the size to create a missing file with (Long); 0 = it must exist. */
    public static final String SIZE_BYTES = "size_bytes";
    /** File backing: whether a missing file is created (Boolean). */
    public static final String CREATE = "create";
    /**
     * NBD backing: {@code nbd://HOST[:PORT]/EXPORT} or {@code nbd+unix:///EXPORT?socket=PATH}, or with TLS
     * {@code nbds://...} or {@code nbds+unix://...} with the TLS parameters in the query (see {@link BackingLocation}).
     */
    public static final String URI = "uri";
    /** Optional label recorded as the device's identity instead of its default one. */
    public static final String IDENTITY = "identity";

    private BackingProperties() {
    }
}
