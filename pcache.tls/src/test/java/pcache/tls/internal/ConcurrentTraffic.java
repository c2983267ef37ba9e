package pcache.tls.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

import pcache.api.tls.TlsChannel;

/**
 * Both directions of one connection at once, each end with a reader thread and a writer thread:
 * writers send seeded random data in NBD-like gathering writes (a small header and a payload of
 * random size, up to several MiB), readers read with buffers of random size; checksums must
 * match. Seed from {@code -Dpcache.tls.seed}, else random, and printed.
 */
public final class ConcurrentTraffic {

    private ConcurrentTraffic() {
    }

    public static long seed() {
        String configured = System.getProperty("pcache.tls.seed");
        long seed = configured != null ? Long.parseLong(configured) : new Random().nextLong();
        System.out.println("pcache.tls.seed=" + seed + " (replay with -Dpcache.tls.seed=" + seed + ")");
        return seed;
    }

    /** Sends {@code bytesPerDirection} each way at once and checks what arrives. */
    public static void run(TlsChannel a, TlsChannel b, long bytesPerDirection, long seed) throws Exception {
        ExecutorService executor = Executors.newFixedThreadPool(4);
        try {
            Future<Long> aSent = executor.submit(() -> write(a, bytesPerDirection, new Random(seed)));
            Future<Long> bSent = executor.submit(() -> write(b, bytesPerDirection, new Random(seed + 1)));
            Future<Long> bReceived = executor.submit(() -> read(b, bytesPerDirection, new Random(seed + 2)));
            Future<Long> aReceived = executor.submit(() -> read(a, bytesPerDirection, new Random(seed + 3)));
            assertEquals(aSent.get(60, TimeUnit.SECONDS), bReceived.get(60, TimeUnit.SECONDS), "a to b");
            assertEquals(bSent.get(60, TimeUnit.SECONDS), aReceived.get(60, TimeUnit.SECONDS), "b to a");
        } finally {
            executor.shutdownNow();
        }
    }

    private static long write(TlsChannel channel, long total, Random random) throws Exception {
        CRC32C crc = new CRC32C();
        ByteBuffer header = ByteBuffer.allocateDirect(32);
        ByteBuffer payload = ByteBuffer.allocateDirect(4 << 20);
        byte[] chunk = new byte[4 << 20];
        long sent = 0;
        while (sent < total) {
            int headerLength = 1 + random.nextInt(32);
            int payloadLength = (int) Math.min(total - sent - headerLength < 0 ? 0 : total - sent - headerLength,
                    random.nextInt(4) == 0 ? random.nextInt(64) : random.nextInt(4 << 20));
            headerLength = (int) Math.min(headerLength, total - sent);
            random.nextBytes(chunk);
            header.clear().put(chunk, 0, headerLength).flip();
            payload.clear().put(chunk, headerLength, payloadLength).flip();
            crc.update(chunk, 0, headerLength + payloadLength);
            ByteBuffer[] buffers = {header, payload};
            long expected = headerLength + payloadLength;
            long written = 0;
            while (written < expected) {
                written += channel.write(buffers);
            }
            sent += expected;
        }
        return crc.getValue();
    }

    private static long read(TlsChannel channel, long total, Random random) throws Exception {
        CRC32C crc = new CRC32C();
        ByteBuffer buffer = ByteBuffer.allocateDirect(4 << 20);
        long received = 0;
        while (received < total) {
            int size = random.nextBoolean() ? 1 + random.nextInt(100) : 1 + random.nextInt(4 << 20);
            buffer.clear().limit((int) Math.min(size, total - received));
            int n = channel.read(buffer);
            if (n < 0) {
                throw new java.io.EOFException("end of stream after " + received + " of " + total + " bytes");
            }
            buffer.flip();
            crc.update(buffer);
            received += n;
        }
        return crc.getValue();
    }
}
