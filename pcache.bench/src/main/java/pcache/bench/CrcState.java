package pcache.bench;

import java.nio.ByteBuffer;
import java.util.SplittableRandom;

import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import pcache.crc.internal.PcacheCrc32c;

/** Random input of {@code size} bytes in a heap array and a direct buffer, and the CRC under test. */
@State(Scope.Thread)
public class CrcState {

    /** Bytes per checksum: a kset header, a page, a large write, the largest key, a big extent. */
    @Param({"24", "4096", "65536", "1048576", "16777216"})
    public int size;

    /** {@code heap}: byte[] input; {@code direct}: a direct ByteBuffer. */
    @Param({"heap", "direct"})
    public String memory;

    public byte[] array;
    public ByteBuffer direct;
    public final PcacheCrc32c pcache = new PcacheCrc32c();

    @Setup(Level.Trial)
    public void setUp() {
        array = new byte[size];
        new SplittableRandom(size).nextBytes(array);
        direct = ByteBuffer.allocateDirect(size).put(array).flip();
    }

    public boolean heap() {
        return "heap".equals(memory);
    }
}
