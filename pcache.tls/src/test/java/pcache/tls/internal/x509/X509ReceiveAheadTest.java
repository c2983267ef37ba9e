package pcache.tls.internal.x509;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import pcache.tls.internal.LoopbackPair;
import pcache.tls.internal.ReceiveAheadChecks;

/** The JSSE channel receives a message ahead by its records' sizes ({@link SslEngineChannel#receiveAhead}). */
@Timeout(60)
class X509ReceiveAheadTest {

    @TempDir
    Path temp;

    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void receivesAhead(String protocol) throws Exception {
        MutualEndpoints endpoints = MutualEndpoints.create(temp, protocol);
        // exact under TLS 1.2 (AES-GCM records of a fixed overhead, no KeyUpdate); JSSE's TLS 1.3
        // records take 16 bytes more than the least a record can take
        ReceiveAheadChecks.check(endpoints.server(), endpoints.client(), protocol.equals("TLSv1.2"),
                SslEngineChannel.MAX_AHEAD_BYTES);
    }

    @Test
    void onlyAeadCiphersWithKnownRecordLayoutsAreJudged() {
        assertEquals(22, SslEngineChannel.leastRecordOverhead("TLSv1.3", "TLS_AES_256_GCM_SHA384"));
        assertEquals(22, SslEngineChannel.leastRecordOverhead("TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256"));
        assertEquals(-1, SslEngineChannel.leastRecordOverhead("TLSv1.3", "TLS_AES_128_CCM_8_SHA256"), "an 8-byte tag");
        assertEquals(29, SslEngineChannel.leastRecordOverhead("TLSv1.2", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"));
        assertEquals(21, SslEngineChannel.leastRecordOverhead("TLSv1.2",
                "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"));
        assertEquals(-1, SslEngineChannel.leastRecordOverhead("TLSv1.2", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"),
                "CBC: MAC and padding vary");
        assertEquals(-1, SslEngineChannel.leastRecordOverhead("TLSv1.1", "TLS_RSA_WITH_AES_128_GCM_SHA256"));
    }

    /** A real session's record takes at least what the channel assumes, and for TLS 1.2 exactly that. */
    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void theAssumedOverheadIsWhatASessionsRecordTakes(String protocol) throws Exception {
        MutualEndpoints endpoints = MutualEndpoints.create(temp, protocol);
        long[] written = new long[1];
        try (LoopbackPair pair = LoopbackPair.handshake(endpoints.server(), endpoints.client(),
                socket -> new ByteChannel() {
                    @Override
                    public int read(ByteBuffer dst) throws java.io.IOException {
                        return socket.read(dst);
                    }

                    @Override
                    public int write(ByteBuffer src) throws java.io.IOException {
                        int n = socket.write(src);
                        written[0] += n;
                        return n;
                    }

                    @Override
                    public boolean isOpen() {
                        return socket.isOpen();
                    }

                    @Override
                    public void close() throws java.io.IOException {
                        socket.close();
                    }
                })) {
            int overhead = SslEngineChannel.leastRecordOverhead(pair.server.protocol(), pair.server.cipherSuite());
            long before = written[0];
            pair.server.write(ByteBuffer.allocate(1000)); // one record
            long taken = written[0] - before - 1000;
            assertTrue(overhead > 0 && overhead <= taken, pair.server.cipherSuite() + ": assumed " + overhead
                    + ", a record took " + taken);
            if (protocol.equals("TLSv1.2")) {
                assertEquals(overhead, taken, "TLS 1.2 AES-GCM records have no padding");
            }
            // (JSSE's own TLS 1.3 records take 16 bytes more than the least, 38; GnuTLS's, which
            // qemu, libnbd and nbdkit use, take the least, 22: counted once in TlsInteropTest's
            // nbdcopy runs while writing this)
        }
    }

    @Test
    void wholeApplicationDataRecordsAreCounted() {
        ByteBuffer records = ByteBuffer.allocate(400);
        records.put(new byte[7]); // consumed before: position 7
        record(records, 23, 100); // 105 - 22
        record(records, 23, 40); // 45 - 22
        record(records, 23, 10); // smaller than the overhead: nothing, not less
        records.put((byte) 23).put((byte) 3).put((byte) 3).putShort((short) 1000).put(new byte[20]); // incomplete
        records.flip().position(7);
        assertEquals(83 + 23, SslEngineChannel.plaintextInWholeRecords(records, 22));
        assertEquals(7, records.position(), "untouched");
        assertEquals(0, SslEngineChannel.plaintextInWholeRecords(ByteBuffer.allocate(3), 22), "a partial header");
    }

    /**
     * Records arriving a few at a time are each counted once, also when the buffer is compacted
     * between reads: a receive-ahead of tiny records costs work in proportion to them, not to
     * their square.
     */
    @Test
    void recordsArrivingOneAtATimeAreEachCountedOnce() {
        ByteBuffer records = ByteBuffer.allocate(64 * 1024);
        records.put(new byte[11]).flip().position(11); // 11 bytes consumed before
        SslEngineChannel.RecordScan scan = new SslEngineChannel.RecordScan();
        int n = 2_000;
        for (int i = 0; i < n; i++) {
            int start = records.position();
            records.position(records.limit()).limit(records.capacity());
            record(records, 23, 18); // 23 bytes with its header: one byte of plaintext
            records.limit(records.position()).position(start);
            if (i == n / 2) {
                records.compact().flip(); // as makeRoom does: the records move with the position
            }
            assertTrue(scan.more(records, 22));
        }
        assertEquals(n, scan.plaintext);
        assertEquals(n * 23, scan.counted);
        assertTrue(scan.headersRead <= n, scan.headersRead + " headers read for " + n + " records");
    }

    /** A handshake record (a TLS 1.2 renegotiation the peer may wait on) is not judged: only a read answers it. */
    @Test
    void aWholeRecordOfAnotherTypeStopsTheCount() {
        ByteBuffer records = ByteBuffer.allocate(300);
        record(records, 23, 100);
        record(records, 22, 50);
        record(records, 23, 40);
        records.flip();
        assertEquals(-1, SslEngineChannel.plaintextInWholeRecords(records, 22));
    }

    private static void record(ByteBuffer to, int type, int length) {
        to.put((byte) type).put((byte) 3).put((byte) 3).putShort((short) length).put(new byte[length]);
    }
}
