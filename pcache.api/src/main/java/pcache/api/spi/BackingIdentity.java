package pcache.api.spi;

/**
 * What makes a backing device the one a cache belongs to. The cache records it when it is first
 * paired and refuses a device with a different identity unless forced, because writing one
 * disk's cached data onto another silently destroys both.
 *
 * @param sizeBytes the device size
 * @param id a stable name of the device's content: by default derived from where it lives (a
 *        file's real path, an NBD export's address), or an explicit label from configuration
 *        when the same data is reachable several ways (a file, and the same file exported over NBD)
 */
public record BackingIdentity(long sizeBytes, String id) {

    /** Longest id the cache device can record, in UTF-8 bytes (the room in pcache's extension record). */
    public static final int MAX_ID_BYTES = pcache.api.format.PcacheLayout.Extension.ID_MAX_BYTES;

    public BackingIdentity {
        if (sizeBytes < 0) {
            throw new IllegalArgumentException("negative backing size " + sizeBytes);
        }
        if (id == null || id.isEmpty()) {
            throw new IllegalArgumentException("backing identity needs a non-empty id");
        }
        if (id.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > MAX_ID_BYTES) {
            throw new IllegalArgumentException("backing identity id longer than " + MAX_ID_BYTES
                    + " bytes: " + id);
        }
    }

    @Override
    public String toString() {
        return id + " (" + sizeBytes + " bytes)";
    }
}
