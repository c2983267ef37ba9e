package pcache.api.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * How the paths of cache devices and backing files are compared: two paths that reach one file
 * (a symbolic link and its target, {@code /dev/disk/by-id/...} and the device node, a folder
 * reached through a link) are one device, and two caches must not share it.
 */
public final class DevicePaths {

    private DevicePaths() {
    }

    /**
     * The path {@code path} is compared by: its real path (every symbolic link resolved) when the
     * file exists; when it does not yet, the real folder and name of the file its links lead to;
     * absolute and normalized when neither can be found. Hard links are not found this way: they
     * are one file under two real paths ({@link #same} and {@link #fileKey} find them).
     */
    public static Path identity(Path path) {
        Path absolute = path.toAbsolutePath().normalize();
        try {
            return absolute.toRealPath();
        } catch (IOException | SecurityException e) {
            // a link to a file not created yet is that file: follow the links by hand
            try {
                for (int hops = 0; hops < 40 && Files.isSymbolicLink(absolute); hops++) {
                    absolute = absolute.resolveSibling(Files.readSymbolicLink(absolute)).normalize();
                }
            } catch (IOException | SecurityException | UnsupportedOperationException ignored) {
                // as far as the links could be followed
            }
            Path parent = absolute.getParent();
            if (parent != null && absolute.getFileName() != null) {
                try {
                    return parent.toRealPath().resolve(absolute.getFileName());
                } catch (IOException | SecurityException ignored) {
                    // neither the file nor its folder is there: compare the path as written
                }
            }
            return absolute;
        }
    }

    /**
     * Whether a path property of a configuration ({@code configured}: its value, or null) reaches
     * the file {@code path} reaches. A value that is no path is compared as written.
     */
    public static boolean sameAsConfigured(String path, Object configured) {
        if (configured == null) {
            return false;
        }
        try {
            return same(Path.of(path), Path.of(configured.toString()));
        } catch (java.nio.file.InvalidPathException e) {
            return path.equals(configured.toString());
        }
    }

    /**
     * Whether {@code a} and {@code b} reach one file: the same {@link #identity}, or two hard
     * links to one existing file (one inode under two real paths).
     */
    public static boolean same(Path a, Path b) {
        if (identity(a).equals(identity(b))) {
            return true;
        }
        try {
            return Files.exists(a) && Files.exists(b) && Files.isSameFile(a, b);
        } catch (IOException | SecurityException e) {
            return false; // unreadable: compared by path only, as above
        }
    }

    /**
     * The file system's key of the file {@code path} reaches (its device and inode), when it
     * exists and the file system has one: hard links to one file share it.
     */
    public static java.util.Optional<Object> fileKey(Path path) {
        try {
            return java.util.Optional.ofNullable(Files.readAttributes(path,
                    java.nio.file.attribute.BasicFileAttributes.class).fileKey());
        } catch (IOException | SecurityException | UnsupportedOperationException e) {
            return java.util.Optional.empty(); // not there (yet), or no key: compared by path only
        }
    }
}
