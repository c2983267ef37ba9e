package pcache.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.zip.GZIPInputStream;

/**
 * The cache and backing devices written by Linux dm-pcache, shipped in this module's resources
 * under {@code dm-pcache-kernel/} (see the README there): every module's tests read them from the
 * class path, so a fresh clone holds everything the tests need.
 */
public final class KernelFixtures {

    /** Folder of the fixtures on the class path. */
    public static final String ROOT = "/dm-pcache-kernel/";

    private KernelFixtures() {
    }

    /**
     * The fixture at {@code name} (relative to {@link #ROOT}, e.g. {@code dirty-nocrc/cachedev.img.gz}),
     * decompressed when it ends in {@code .gz}. A missing fixture is an error, never a skip.
     */
    public static InputStream open(String name) throws IOException {
        InputStream in = KernelFixtures.class.getResourceAsStream(ROOT + name);
        if (in == null) {
            throw new IOException("kernel fixture " + ROOT + name + " is not on the class path"
                    + " (it belongs to pcache.testkit's resources; is the module a test dependency?)");
        }
        return name.endsWith(".gz") ? new GZIPInputStream(in, 1 << 16) : in;
    }

    /** All bytes of a fixture, decompressed. */
    public static byte[] bytes(String name) throws IOException {
        try (InputStream in = open(name)) {
            return in.readAllBytes();
        }
    }

    /** A text fixture (a manifest) as UTF-8. */
    public static String text(String name) {
        try {
            return new String(bytes(name), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
