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
 * where the loop driver refuses a device (no {@code /dev/loop-control}), which is a property of the
 * host kernel, not an install step. Where the driver is there, a device that cannot be attached,
 * or a second device node that cannot be made or opened (not root, a {@code nodev} mount), fails
 * the test in CI and skips it elsewhere.
 */
public final class LoopDevice implements AutoCloseable {

    private final String device;

    private LoopDevice(String device) {
        this.device = device;
    }

    /** A loop device over {@code image}, detached by {@link #close()}. */
    public static LoopDevice over(Path image) throws InterruptedException {
        return attach(image, false);
    }

    /**
     * A loop device over {@code image} that the kernel marks read-only ({@code losetup
     * --read-only}: the flag goes with the attachment, where {@code blockdev --setro} would outlive
     * it and meet the next test given the same loop device), detached by {@link #close()}.
     */
    public static LoopDevice overReadOnly(Path image) throws InterruptedException {
        return attach(image, true);
    }

    private static LoopDevice attach(Path image, boolean readOnly) throws InterruptedException {
        ExternalTools.require("losetup");
        if (!Files.exists(Path.of("/dev/loop-control"))) {
            throw new TestAbortedException("no loop driver here (/dev/loop-control)");
        }
        String out = readOnly ? run("losetup", "--find", "--show", "--read-only", image.toString())
                : run("losetup", "--find", "--show", image.toString());
        String loop = out == null ? null : out.lines().filter(l -> l.startsWith("/dev/")).reduce((a, b) -> b)
                .orElse(null);
        if (loop == null) {
            // attached but not shown, say: whatever is attached to the image goes
            run("sh", "-c", "losetup -j '" + image + "' -O NAME -n | xargs -r -n1 losetup -d");
            throw unusable("no loop device attached to " + image + " (losetup: " + out + "; root is needed)");
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
            throw unusable("mknod " + at + " b " + major + " " + minor + " failed (root is needed)");
        }
        try (FileChannel node = FileChannel.open(at, StandardOpenOption.READ)) {
            return at;
        } catch (IOException e) {
            throw unusable("device node " + at + " cannot be opened (a nodev mount?): " + e);
        }
    }

    /**
     * Makes an ext4 file system on this device and mounts it at {@code at} (made if missing);
     * closing the result unmounts it.
     */
    public AutoCloseable mountExt4(Path at) throws IOException, InterruptedException {
        ExternalTools.require("mkfs.ext4");
        ExternalTools.require("mount");
        Files.createDirectories(at);
        if (run("mkfs.ext4", "-q", "-F", device) == null) {
            throw unusable("mkfs.ext4 " + device + " failed");
        }
        if (run("mount", device, at.toString()) == null) {
            run("umount", at.toString()); // a mount that timed out may have happened all the same
            throw unusable("mount " + device + " " + at + " failed (root is needed)");
        }
        return () -> {
            if (run("umount", at.toString()) == null) {
                throw new IllegalStateException("umount " + at + " failed: " + device + " stays mounted there");
            }
        };
    }

    /** A failure in CI, where the tests run as root on a host with the loop driver; a skip elsewhere. */
    private static RuntimeException unusable(String why) {
        return ExternalTools.inCi() ? new IllegalStateException(why) : new TestAbortedException(why);
    }

    @Override
    public void close() throws InterruptedException {
        if (run("losetup", "--detach", device) == null) {
            throw new IllegalStateException("losetup --detach " + device + " failed: the loop device stays attached");
        }
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
