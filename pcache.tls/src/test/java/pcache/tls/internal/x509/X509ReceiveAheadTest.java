package pcache.tls.internal.x509;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

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
        // TLS 1.2 has no KeyUpdate: its record sizes tell exactly
        ReceiveAheadChecks.check(endpoints.server(), endpoints.client(), protocol.equals("TLSv1.2"), SslEngineChannel.MAX_AHEAD_BYTES);
    }

    @Test
    void leastOverheadIsWhatAnUnpaddedRecordTakes() {
        assertEquals(22, SslEngineChannel.leastRecordOverhead("TLSv1.3", "TLS_AES_256_GCM_SHA384"));
        assertEquals(22, SslEngineChannel.leastRecordOverhead("TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256"));
        assertEquals(29, SslEngineChannel.leastRecordOverhead("TLSv1.2", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"));
        assertEquals(21, SslEngineChannel.leastRecordOverhead("TLSv1.2",
                "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"));
        assertEquals(6, SslEngineChannel.leastRecordOverhead("TLSv1.2", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"));
    }

    @Test
    void recordsAreCountedWholeAndByType() {
        ByteBuffer records = ByteBuffer.allocate(400);
        records.put(new byte[7]); // consumed before: position 7
        record(records, 23, 100); // application data: 105 - 22
        record(records, 22, 50); // handshake: nothing
        record(records, 23, 40); // 45 - 22
        record(records, 23, 10); // smaller than the overhead: nothing, not less
        records.put((byte) 23).put((byte) 3).put((byte) 3).putShort((short) 1000).put(new byte[20]); // incomplete
        records.flip().position(7);
        assertEquals(83 + 23, SslEngineChannel.plaintextInWholeRecords(records, 22));
        assertEquals(7, records.position(), "untouched");
        assertEquals(0, SslEngineChannel.plaintextInWholeRecords(ByteBuffer.allocate(3), 22), "a partial header");
    }

    private static void record(ByteBuffer to, int type, int length) {
        to.put((byte) type).put((byte) 3).put((byte) 3).putShort((short) length).put(new byte[length]);
    }
}
