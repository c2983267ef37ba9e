package pcache.backing.file.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

/** Where the hole queries and fallocate calls are made at all. */
class LibCTest {

    /**
     * Not on 32-bit Linux, whose {@code lseek} and {@code fallocate} take a 32-bit offset: there
     * the device answers every range as data and writes zeroes itself. Before, only Linux was
     * asked for, and a 32-bit JVM would have zeroed or reported holes at other offsets.
     */
    @Test
    void onlyOn64BitLinux() {
        assertTrue(LibC.Supported.on(true, "amd64"));
        assertTrue(LibC.Supported.on(true, "aarch64"));
        assertFalse(LibC.Supported.on(true, "i386"));
        assertFalse(LibC.Supported.on(true, "arm"));
        assertFalse(LibC.Supported.on(true, "sparcv9"));
        assertFalse(LibC.Supported.on(false, "amd64"));
        assertEquals(System.getProperty("os.name").startsWith("Linux")
                && List.of("amd64", "x86_64", "aarch64").contains(System.getProperty("os.arch")), LibC.Supported.here());
    }

    /** A failed call names its error and what it means, not only a number. */
    @Test
    void errorsAreNamed() {
        org.junit.jupiter.api.Assertions.assertEquals("errno 28 ENOSPC (no space left on the file system: free some)",
                LibC.describe(28));
        org.junit.jupiter.api.Assertions.assertEquals("errno 4242", LibC.describe(4242));
    }
}
