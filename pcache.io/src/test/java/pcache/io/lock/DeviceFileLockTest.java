package pcache.io.lock;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import pcache.testkit.LoopDevice;

/** The lock on a device's file itself, with JNA and without it. */
class DeviceFileLockTest {

    @TempDir
    Path dir;


    /**
     * The lock is taken on the file, so a second one through a hard link in another folder is
     * refused until the first is released.
     */
    @Test
    void aHardLinkElsewhereMeetsTheLockUntilItIsReleased() throws Exception {
        assumeTrue(DeviceFileLock.supportedPlatform(), "open file description locks of 64-bit x86 and ARM Linux");
        Path device = Files.write(dir.resolve("c.cache"), new byte[4096]);
        Path link = Files.createLink(Files.createDirectories(dir.resolve("other")).resolve("d.cache"), device);
        DeviceFileLock.Locked first = assertInstanceOf(DeviceFileLock.Locked.class, DeviceFileLock.tryLock(device));
        try {
            assertInstanceOf(DeviceFileLock.HeldElsewhere.class, DeviceFileLock.tryLock(link));
            assertInstanceOf(DeviceFileLock.HeldElsewhere.class, DeviceFileLock.tryLock(device));
        } finally {
            first.lock().close();
            first.lock().close(); // once only: a descriptor number reused meanwhile is not closed
        }
        DeviceFileLock.Locked again = assertInstanceOf(DeviceFileLock.Locked.class, DeviceFileLock.tryLock(link));
        again.lock().close();
        DeviceFileLock.Unsupported missing = assertInstanceOf(DeviceFileLock.Unsupported.class,
                DeviceFileLock.tryLock(dir.resolve("missing.cache")));
        assertEquals("cannot open " + dir.resolve("missing.cache") + " for writing: errno 2 (ENOENT: no such file)",
                missing.why());
        assertTrue(missing.openFailed(), "the open failed, not the lock");
    }

    /** Read locks share the file with each other; a write lock shares it with none. */
    @Test
    void readLocksShareTheFileAndAWriteLockSharesItWithNone() throws Exception {
        assumeTrue(DeviceFileLock.supportedPlatform(), "open file description locks of 64-bit x86 and ARM Linux");
        Path device = Files.write(dir.resolve("backing.img"), new byte[4096]);
        DeviceFileLock.Locked reader = assertInstanceOf(DeviceFileLock.Locked.class,
                DeviceFileLock.tryLock(device, DeviceFileLock.Access.READ));
        DeviceFileLock.Locked other = assertInstanceOf(DeviceFileLock.Locked.class,
                DeviceFileLock.tryLock(device, DeviceFileLock.Access.READ));
        assertInstanceOf(DeviceFileLock.HeldElsewhere.class, DeviceFileLock.tryLock(device));
        reader.lock().close();
        assertInstanceOf(DeviceFileLock.HeldElsewhere.class, DeviceFileLock.tryLock(device),
                "one reader is left");
        other.lock().close();
        DeviceFileLock.Locked writer = assertInstanceOf(DeviceFileLock.Locked.class, DeviceFileLock.tryLock(device));
        try {
            assertInstanceOf(DeviceFileLock.HeldElsewhere.class,
                    DeviceFileLock.tryLock(device, DeviceFileLock.Access.READ));
        } finally {
            writer.lock().close();
        }
    }

    /**
     * Image locks keep pcache users apart as whole-file locks do: readers share, a writer shares
     * with none, a hard link is the same file.
     */
    @Test
    void imageLocksKeepWritersApartAndLetReadersShare() throws Exception {
        assumeTrue(DeviceFileLock.supportedPlatform(), "open file description locks of 64-bit x86 and ARM Linux");
        Path device = Files.write(dir.resolve("backing.img"), new byte[4096]);
        Path link = Files.createLink(Files.createDirectories(dir.resolve("other")).resolve("b.img"), device);
        DeviceFileLock.Locked writer = assertInstanceOf(DeviceFileLock.Locked.class,
                DeviceFileLock.tryLockImage(device, DeviceFileLock.Access.WRITE));
        try {
            assertInstanceOf(DeviceFileLock.HeldElsewhere.class,
                    DeviceFileLock.tryLockImage(link, DeviceFileLock.Access.WRITE));
            assertInstanceOf(DeviceFileLock.HeldElsewhere.class,
                    DeviceFileLock.tryLockImage(link, DeviceFileLock.Access.READ));
        } finally {
            writer.lock().close();
        }
        DeviceFileLock.Locked reader = assertInstanceOf(DeviceFileLock.Locked.class,
                DeviceFileLock.tryLockImage(device, DeviceFileLock.Access.READ));
        DeviceFileLock.Locked other = assertInstanceOf(DeviceFileLock.Locked.class,
                DeviceFileLock.tryLockImage(link, DeviceFileLock.Access.READ));
        try {
            assertInstanceOf(DeviceFileLock.HeldElsewhere.class,
                    DeviceFileLock.tryLockImage(device, DeviceFileLock.Access.WRITE));
        } finally {
            reader.lock().close();
            other.lock().close();
        }
        DeviceFileLock.Locked again = assertInstanceOf(DeviceFileLock.Locked.class,
                DeviceFileLock.tryLockImage(link, DeviceFileLock.Access.WRITE));
        again.lock().close();
    }

    /**
     * A block device locked for writing is claimed as a device: another device node of it (a
     * container's own {@code /dev}) is refused as busy, not only the node locked ({@link
     * LoopDevice}: needs root and losetup).
     */
    @Test
    void aBlockDeviceIsClaimedThroughEveryNodeOfIt() throws Exception {
        assumeTrue(DeviceFileLock.supportedPlatform(), "open file description locks of 64-bit x86 and ARM Linux");
        Path image = Files.write(dir.resolve("loop.img"), new byte[1 << 20]);
        try (LoopDevice loop = LoopDevice.over(image)) {
            Path alias = loop.secondNode(dir.resolve("alias"));
            assertTrue(DeviceFileLock.isBlockDevice(alias), "a block device node");
            assertTrue(!DeviceFileLock.isBlockDevice(image), "a file is not");
            DeviceFileLock.Locked first = assertInstanceOf(DeviceFileLock.Locked.class,
                    DeviceFileLock.tryLock(loop.path()));
            try {
                assertInstanceOf(DeviceFileLock.Busy.class, DeviceFileLock.tryLock(alias),
                        "another node of the device");
                assertInstanceOf(DeviceFileLock.Busy.class, DeviceFileLock.tryLock(loop.path()));
            } finally {
                first.lock().close();
            }
            DeviceFileLock.Locked again = assertInstanceOf(DeviceFileLock.Locked.class, DeviceFileLock.tryLock(alias));
            again.lock().close();
        }
    }

    /**
     * A file that cannot be opened for writing is not taken for one locked elsewhere: its open's
     * error (EACCES for a file the user may not write, EISDIR here, as root may write any file) is
     * left to the mapping's open. Before, an EACCES of the open read as "in use by another cache".
     */
    @Test
    void aFileThatCannotBeOpenedForWritingIsNotHeldElsewhere() throws Exception {
        assumeTrue(DeviceFileLock.supportedPlatform(), "open file description locks of 64-bit x86 and ARM Linux");
        Path folder = Files.createDirectories(dir.resolve("a-folder"));
        DeviceFileLock.Unsupported refused = assertInstanceOf(DeviceFileLock.Unsupported.class,
                DeviceFileLock.tryLock(folder));
        assertEquals("cannot open " + folder + " for writing: errno 21 (EISDIR: a folder)", refused.why());
        assertTrue(refused.openFailed(), "the open failed, not the lock");
    }

    /**
     * Without JNA (an OSGi framework without the JNA bundle: the engine imports it dynamically) the
     * lock says it is not there, and the cache goes on with its lock file. Before, the class itself
     * needed JNA to link, so the cache's open failed with a NoClassDefFoundError.
     */
    @Test
    void withoutJnaTheLockIsUnsupportedInsteadOfFailing() throws Exception {
        URL classes = DeviceFileLock.class.getProtectionDomain().getCodeSource().getLocation();
        Path device = Files.write(dir.resolve("c.cache"), new byte[4096]);
        // the platform class loader as parent: the JDK, but not JNA, which is on the class path
        try (URLClassLoader withoutJna = new URLClassLoader(new URL[] {classes}, ClassLoader.getPlatformClassLoader())) {
            Class<?> lock = Class.forName(DeviceFileLock.class.getName(), true, withoutJna);
            assertTrue(lock.getClassLoader() == withoutJna, "loaded without the test's class path");
            Method tryLock = lock.getDeclaredMethod("tryLock", Path.class);
            tryLock.setAccessible(true);
            Object outcome = tryLock.invoke(null, device);
            assertEquals("Unsupported", outcome.getClass().getSimpleName(), String.valueOf(outcome));
            if (DeviceFileLock.supportedPlatform()) {
                assertTrue(outcome.toString().contains("JNA is not available"), outcome.toString());
            }
        }
    }

    /**
     * A block device refused as busy says what holds it when the system tells: here the file
     * system mounted from it, at a folder whose name has a space (which /proc writes escaped).
     * Before, the message listed the usual reasons only.
     */
    @Test
    void aMountedBlockDeviceIsRefusedAsBusyNamingWhereItIsMounted() throws Exception {
        assumeTrue(DeviceFileLock.supportedPlatform(), "open file description locks of 64-bit x86 and ARM Linux");
        Path image = dir.resolve("fs.img");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(16 << 20);
        }
        try (LoopDevice loop = LoopDevice.over(image)) {
            Path at = dir.resolve("mount point");
            try (AutoCloseable mounted = loop.mountExt4(at)) {
                DeviceFileLock.Outcome outcome = DeviceFileLock.tryLock(loop.path());
                if (outcome instanceof DeviceFileLock.Locked wrongly) {
                    wrongly.lock().close(); // never left open: it would keep the loop device
                }
                DeviceFileLock.Busy busy = assertInstanceOf(DeviceFileLock.Busy.class, outcome);
                assertEquals("mounted at " + at.toRealPath(), busy.heldBy());
            }
            DeviceFileLock.Locked again = assertInstanceOf(DeviceFileLock.Locked.class, DeviceFileLock.tryLock(loop.path()));
            again.lock().close();
        }
    }
}
