package pcache.backing.file.internal;

/**
 * The configuration of one file backing device, as the DS component reads it (PID
 * {@value FileBackingComponent#PID}). The key names below are the configuration keys that error
 * messages cite.
 *
 * @param name the backing device's name, published as {@code pcache.backing.name}
 * @param path a regular file or a block device
 * @param sizeBytes the expected size, a multiple of 512; 0 = whatever the existing file has
 * @param create create a missing file of {@code sizeBytes}
 * @param readOnly open for reading only: writes fail, flush does nothing
 * @param identity label recorded by caches; empty = {@code file:<real path>}
 * @param directWrites write aligned buffers past the page cache ({@code O_DIRECT}) where the
 *        file system allows it
 */
public record FileBackingSettings(String name, String path, long sizeBytes, boolean create,
        boolean readOnly, String identity, boolean directWrites) {

    public static final String KEY_NAME = "name";
    public static final String KEY_PATH = "path";
    public static final String KEY_SIZE_BYTES = "size_bytes";
    public static final String KEY_CREATE = "create";
    public static final String KEY_READ_ONLY = "read_only";
    public static final String KEY_IDENTITY = "identity";
    public static final String KEY_DIRECT_WRITES = "direct_writes";

    /** Settings for an existing, writable file with a derived identity. */
    public static FileBackingSettings of(String name, String path) {
        return new FileBackingSettings(name, path, 0, false, false, "", true);
    }

    public FileBackingSettings withSizeBytes(long value) {
        return new FileBackingSettings(name, path, value, create, readOnly, identity, directWrites);
    }

    public FileBackingSettings withCreate(boolean value) {
        return new FileBackingSettings(name, path, sizeBytes, value, readOnly, identity, directWrites);
    }

    public FileBackingSettings withReadOnly(boolean value) {
        return new FileBackingSettings(name, path, sizeBytes, create, value, identity, directWrites);
    }

    public FileBackingSettings withDirectWrites(boolean value) {
        return new FileBackingSettings(name, path, sizeBytes, create, readOnly, identity, value);
    }

    public FileBackingSettings withIdentity(String value) {
        return new FileBackingSettings(name, path, sizeBytes, create, readOnly, value, directWrites);
    }
}
