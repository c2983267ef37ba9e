package pcache.export.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static pcache.api.nbd.NbdWire.*;

import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import pcache.api.config.ExportTlsMode;
import pcache.api.tls.TlsHandshakeException;

/**
 * "Never served in clear text", fuzzed: the handshake seeds and seeded mutations of them run
 * against a server that requires TLS and whose TLS handshake always fails (the fuzzed bytes are
 * no TLS). Whatever the client sends, no export is attached, no session starts, and everything
 * the server writes after its greeting is an option reply: ERR_TLS_REQD, or the ACK to STARTTLS
 * or ABORT, or ERR_INVALID to a STARTTLS with data. {@code -Dpcache.fuzz.slice.inputs=N} and
 * {@code -Dpcache.fuzz.slice.seed=S} as for {@link NbdFuzzSliceTest}.
 */
@Timeout(60)
class RequireTlsFuzzTest {
    private static final Logger SERVER_LOG = Logger.getLogger("pcache.export.nbd.internal");
    private static Level savedLevel;

    @BeforeAll
    static void quietServerLog() {
        savedLevel = SERVER_LOG.getLevel();
        SERVER_LOG.setLevel(Level.OFF);
    }

    @AfterAll
    static void restoreServerLog() {
        SERVER_LOG.setLevel(savedLevel);
    }

    @Test
    void noExportIsEverServedBeforeTls() throws IOException {
        SessionDriver driver = new SessionDriver();
        ExportDirectory directory = new ExportDirectory() {
            @Override
            public Export find(String name) {
                return name.isEmpty() || name.equals("disk") ? driver.diskExport : null;
            }

            @Override
            public List<Export> list() {
                return List.of(driver.diskExport);
            }

            @Override
            public boolean isShuttingDown() {
                return false;
            }
        };
        List<byte[]> pool = new ArrayList<>(SeedCorpus.handshakeSeeds().values());
        pool.addAll(SeedCorpus.committedInputs("handshake"));
        // STARTTLS as the last bytes: the only way the in-memory input reaches the TLS handshake
        // (anything after it is already buffered and drops the connection as injected)
        pool.add(ByteBuffer.allocate(20).putInt(CLIENT_FLAG_FIXED_NEWSTYLE | CLIENT_FLAG_NO_ZEROES)
                .putLong(OPTION_MAGIC).putInt(OPT_STARTTLS).putInt(0).array());
        pool.add(ByteBuffer.allocate(20 + 16 + 16).putInt(CLIENT_FLAG_FIXED_NEWSTYLE)
                .putLong(OPTION_MAGIC).putInt(OPT_LIST).putInt(0)
                .putLong(OPTION_MAGIC).putInt(OPT_STRUCTURED_REPLY).putInt(0)
                .putLong(OPTION_MAGIC).putInt(OPT_STARTTLS).putInt(0).array());
        AtomicInteger attached = new AtomicInteger();
        AtomicInteger tlsAttempts = new AtomicInteger();
        int[] refusals = new int[1];
        Mutator mutator = new Mutator(new Random(NbdFuzzSliceTest.SEED), pool, 16 << 10);
        int inputs = pool.size() + NbdFuzzSliceTest.INPUTS;
        for (int i = 0; i < inputs; i++) {
            byte[] input = i < pool.size() ? pool.get(i) : mutator.next();
            ChannelInput in = new ChannelInput(Channels.newChannel(new ByteArrayInputStream(input)));
            SessionDriver.CapturingChannel out = new SessionDriver.CapturingChannel(64 * 1024 + 64L * input.length);
            Handshake handshake = new Handshake(in, out, directory, export -> attached.incrementAndGet() < 0, "fuzz",
                    TlsPolicy.with(ExportTlsMode.REQUIRE, new FakeTls()), () -> {
                        tlsAttempts.incrementAndGet();
                        throw new TlsHandshakeException("fuzzed bytes are no TLS");
                    });
            Session session = null;
            try {
                session = handshake.negotiate();
            } catch (Handshake.Ended | EOFException | TlsHandshakeException e) {
                // the ways it may end
            }
            String where = "input #" + i + " (seed " + NbdFuzzSliceTest.SEED + "): " + HexFormat.of().formatHex(input);
            assertEquals(null, session, where);
            assertEquals(0, attached.get(), where);
            refusals[0] += checkOnlyOptionReplies(out.bytes(), where);
        }
        assertTrue(refusals[0] > 0 && tlsAttempts.get() > 0, "the inputs reached both refusals and STARTTLS: "
                + refusals[0] + " refusals, " + tlsAttempts.get() + " TLS handshakes");
    }

    /** Everything after the 18-byte greeting parses as option replies of the allowed kinds; returns the refusals. */
    private static int checkOnlyOptionReplies(byte[] written, String where) {
        ByteBuffer b = ByteBuffer.wrap(written);
        b.position(Math.min(18, written.length));
        int refusals = 0;
        while (b.hasRemaining()) {
            assertTrue(b.remaining() >= 20, "a partial option reply: " + where);
            assertEquals(OPTION_REPLY_MAGIC, b.getLong(), where);
            int option = b.getInt();
            int type = b.getInt();
            int length = b.getInt();
            b.position(b.position() + length);
            boolean allowed = type == REP_ERR_TLS_REQD
                    || (type == REP_ACK && (option == OPT_STARTTLS || option == OPT_ABORT))
                    || (type == REP_ERR_INVALID && option == OPT_STARTTLS);
            assertTrue(allowed, "reply 0x" + Integer.toHexString(type) + " to option " + option + ": " + where);
            refusals += type == REP_ERR_TLS_REQD ? 1 : 0;
        }
        return refusals;
    }
}
