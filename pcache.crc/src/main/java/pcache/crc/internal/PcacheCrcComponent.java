package pcache.crc.internal;

import java.nio.ByteBuffer;

import org.osgi.service.component.annotations.Component;

import pcache.api.spi.CrcProvider;

/** Registers dm-pcache's CRC ({@link PcacheCrc32c}) as a {@link CrcProvider} service. */
@Component(service = CrcProvider.class,
        property = CrcProvider.ALGORITHM + "=" + CrcProvider.PCACHE_CRC32C)
public class PcacheCrcComponent implements CrcProvider {

    private final PcacheCrc32c crc = new PcacheCrc32c();

    @Override
    public String algorithm() {
        return crc.algorithm();
    }

    @Override
    public int checksum(ByteBuffer data) {
        return crc.checksum(data);
    }

    @Override
    public int checksum(byte[] data, int offset, int length) {
        return crc.checksum(data, offset, length);
    }

    @Override
    public String toString() {
        return crc.toString();
    }
}
