package pcache.testkit;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;

import org.opentest4j.TestAbortedException;

/**
 * A real block device for a test: a loop device over a file. Needs root and {@code losetup} (a
 * missing {@code losetup} fails the test in CI, {@link ExternalTools#require}); the test is skipped
 * where the loop driver refuses a device, or where a second device node cannot be made or opened
 * (a {@code nodev} mount), which are properties of the host, not install steps.
 */
public final class LoopDevice implements AutoCloseable {

    private final String device;

    private LoopDevice(String device) {
        this.device = device;
    }

    /** A loop device over {@code image}, detached by {@link #close()}. */
    public static LoopDevice over(Path image) throws InterruptedException {
        ExternalTools.require("losetup");
        String loop = run("losetup", "--find", "--show", image.toString());
        if (loop == null || !loop.startsWith("/dev/")) {
            throw new TestAbortedException("no loop device available (losetup)");
        }
        return new LoopDevice(loop);
    }

    /** The device's node, as losetup named it. */
    public Path path() {
        return Path.of(device);
    }

    /** The same path as text. */
    public String name() {
        return device;
    }

    /**
     * A second device node of this block device at {@code at} (as a container's own {@code /dev}
     * has), made with {@code mknod}.
     */
    public Path secondNode(Path at) throws IOException, InterruptedException {
        ExternalTools.require("mknod");
        long rdev = (Long) Files.getAttribute(path(), "unix:rdev");
        long major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & ~0xfffL);
        long minor = (rdev & 0xff) | ((rdev >> 12) & ~0xffL);
        if (run("mknod", at.toString(), "b", Long.toString(major), Long.toString(minor)) == null) {
            throw new TestAbortedException("mknod " + at + " b " + major + " " + minor + " failed (not root?)");
        }
        try (FileChannel node = FileChannel.open(at, StandardOpenOption.READ)) {
            return at;
        } catch (IOException e) {
            throw new TestAbortedException("device node " + at + " cannot be opened (a nodev mount?): " + e);
        }
    }

    @Override
    public void close() throws InterruptedException {
        run("losetup", "--detach", device);
    }

    /** Output of a short command, or null when it cannot run or fails. */
    public static String run(String... command) throws InterruptedException {
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                return null;
            }
            String out = new String(process.getInputStream().readAllBytes()).trim();
            return process.exitValue() == 0 ? out : null;
        } catch (IOException e) {
            return null;
        }
    }
}
