package pcache.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Where benchmark files live: memory (tmpfs) for pmem stand-ins, a real disk for backing files. */
public final class BenchFiles {

    /** System property naming the folder for backing files; default java.io.tmpdir. */
    public static final String DISK_DIR_PROPERTY = "pcache.bench.disk";

    private BenchFiles() {
    }

    /** /dev/shm when it is a writable folder, else java.io.tmpdir. */
    public static Path memoryDir() {
        Path shm = Path.of("/dev/shm");
        if (Files.isDirectory(shm) && Files.isWritable(shm)) {
            return shm;
        }
        return Path.of(System.getProperty("java.io.tmpdir"));
    }

    /** The folder for backing files: {@value #DISK_DIR_PROPERTY}, else java.io.tmpdir. */
    public static Path diskDir() {
        return Path.of(System.getProperty(DISK_DIR_PROPERTY, System.getProperty("java.io.tmpdir")));
    }

    /** A fresh file name in {@code dir}; the caller deletes it in its tear-down. */
    public static Path newFile(Path dir, String prefix) throws IOException {
        Path file = Files.createTempFile(dir, prefix, ".img");
        Files.delete(file);
        return file;
    }

    /** The file-system type of {@code path} (e.g. tmpfs, ext4), for the record. */
    public static String fileSystemType(Path path) {
        try {
            return Files.getFileStore(path).type();
        } catch (IOException e) {
            return "unknown";
        }
    }
}
