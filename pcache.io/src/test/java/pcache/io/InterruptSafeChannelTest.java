package pcache.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InterruptSafeChannelTest {

    @TempDir
    Path dir;

    private static final Set<StandardOpenOption> RW = Set.of(StandardOpenOption.READ, StandardOpenOption.WRITE);

    /** A descriptor closed under the device (as an interrupt closes it) is opened again, on the same file. */
    @Test
    void aClosedDescriptorIsOpenedAgain() throws IOException {
        Path file = Files.write(dir.resolve("disk.img"), new byte[] {1, 2, 3, 4});
        FileChannel first = FileChannel.open(file, RW);
        try (InterruptSafeChannel channel = new InterruptSafeChannel(first, file, RW, "disk")) {
            first.close();
            ByteBuffer back = ByteBuffer.allocate(4);
            channel.call(ch -> ch.read(back, 0));
            assertArrayEquals(new byte[] {1, 2, 3, 4}, back.array());
        }
    }

    /**
     * A file renamed over the path while the device had it open: a reopen reached that other
     * file, and reads and writes went there while the lock and the checks were of the first.
     * The reopen is now refused, and the other file is untouched.
     */
    @Test
    void aFileRenamedOverThePathIsNotOpenedInItsPlace() throws IOException {
        Path file = Files.write(dir.resolve("disk.img"), new byte[] {1, 2, 3, 4});
        Path other = Files.write(dir.resolve("other.img"), new byte[] {9, 9, 9, 9});
        FileChannel first = FileChannel.open(file, RW);
        try (InterruptSafeChannel channel = new InterruptSafeChannel(first, file, RW, "disk")) {
            Files.move(other, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            first.close();
            IOException refused = assertThrows(IOException.class,
                    () -> channel.call(ch -> ch.write(ByteBuffer.wrap(new byte[] {7, 7, 7, 7}), 0)));
            assertTrue(refused.getMessage().contains("is no longer the file this device opened"), refused.getMessage());
            assertArrayEquals(new byte[] {9, 9, 9, 9}, Files.readAllBytes(file), "the other file untouched");
            assertEquals(4, Files.size(file));
        }
    }
}
