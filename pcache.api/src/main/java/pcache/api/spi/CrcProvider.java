package pcache.api.spi;

import java.nio.ByteBuffer;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * A checksum for on-media structures and cached data. Registered as a service with the property
 * {@link #ALGORITHM}; caches select {@value #PCACHE_CRC32C}, the one dm-pcache's format uses.
 * Implementations are stateless and thread-safe.
 */
@ConsumerType
public interface CrcProvider {

    /** Service property: the algorithm name. */
    String ALGORITHM = "pcache.crc.algorithm";

    /**
     * dm-pcache's CRC: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) with the register
     * seeded with 0x3B15A and no final inversion (the kernel's {@code crc32c(0x3B15A, ...)}).
     */
    String PCACHE_CRC32C = "crc32c-pcache";

    /** The value of {@link #ALGORITHM}. */
    String algorithm();

    /** Checksum of the bytes from {@code data}'s position to its limit; the position is unchanged. */
    int checksum(ByteBuffer data);

    /** Checksum of {@code length} bytes of {@code data} from {@code offset}. */
    int checksum(byte[] data, int offset, int length);
}
