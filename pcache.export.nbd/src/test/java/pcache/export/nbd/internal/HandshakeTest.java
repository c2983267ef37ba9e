package pcache.export.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static pcache.api.nbd.NbdWire.*;
import static pcache.export.nbd.internal.NbdProtocol.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import pcache.export.nbd.internal.RawNbdClient.OptionReply;
import pcache.api.nbd.NbdWire;

/** Option haggling against the real server, byte by byte, with a raw client. */
@Timeout(30)
class HandshakeTest {
    private ServerFixture fixture;

    @BeforeEach
    void start() throws IOException {
        fixture = new ServerFixture();
    }

    @AfterEach
    void stop() {
        fixture.close();
    }

    /** After a misbehaving client the server must still serve a well-behaved one. */
    private void assertServerStillServes() throws IOException {
        try (RawNbdClient c = fixture.open("disk", true)) {
            c.request(0, NbdCommand.READ.type, 77, 0, 512, null);
            RawNbdClient.Reply r = c.readReply(0);
            assertEquals(77, r.cookie());
            assertEquals(0, r.error());
            assertEquals(CHUNK_OFFSET_DATA, r.type());
        }
    }

    @Test
    void greetingOffersFixedNewstyleAndNoZeroes() throws IOException {
        try (RawNbdClient c = fixture.connect()) {
            assertEquals(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES, c.readGreeting());
        }
    }

    @Test
    void listNamesEveryExportWithADescriptionThenAcks() throws IOException {
        try (RawNbdClient c = fixture.connect().handshakeStart()) {
            c.sendOption(OPT_LIST, new byte[0]);
            List<OptionReply> replies = c.readOptionReplies();
            assertEquals(3, replies.size());
            assertEquals(REP_ACK, replies.get(2).type());
            for (int i = 0; i < 2; i++) {
                OptionReply r = replies.get(i);
                assertEquals(REP_SERVER, r.type());
                ByteBuffer b = ByteBuffer.wrap(r.data());
                byte[] name = new byte[b.getInt()];
                b.get(name);
                assertEquals(i == 0 ? "disk" : "other", new String(name, StandardCharsets.UTF_8));
                assertTrue(b.remaining() > 0, "a description follows the name");
            }
            c.sendOption(OPT_LIST, new byte[] {1});
            assertEquals(REP_ERR_INVALID, c.readOptionReply().type());
        }
    }

    @Test
    void exportNameSendsPaddingUnlessNoZeroesWasAgreed() throws IOException {
        for (int clientFlags : new int[] {CLIENT_FLAG_FIXED_NEWSTYLE, CLIENT_FLAGS_KNOWN}) {
            try (RawNbdClient c = fixture.connect()) {
                c.readGreeting();
                c.sendClientFlags(clientFlags);
                c.sendOption(OPT_EXPORT_NAME, "other".getBytes(StandardCharsets.UTF_8));
                // size (8) + flags (2) [+ 124 zeroes], then the simple reply to our READ
                c.request(0, NbdCommand.READ.type, 5, 0, 512, null);
                RawNbdClient.Reply ignored;
                byte[] head = new byte[10];
                readFully(c, head);
                assertEquals(ServerFixture.OTHER_BYTES, ByteBuffer.wrap(head).getLong());
                int flags = ByteBuffer.wrap(head, 8, 2).getShort() & 0xffff;
                assertEquals(Handshake.transmissionFlags(false), flags);
                if (clientFlags == CLIENT_FLAG_FIXED_NEWSTYLE) {
                    byte[] padding = new byte[EXPORT_NAME_PADDING_BYTES];
                    readFully(c, padding);
                    assertArrayEquals(new byte[EXPORT_NAME_PADDING_BYTES], padding);
                }
                ignored = c.readReply(512);
                assertEquals(5, ignored.cookie());
                assertEquals(0, ignored.error());
            }
        }
    }

    private static void readFully(RawNbdClient c, byte[] into) throws IOException {
        c.readInto(into);
    }

    @Test
    void exportNameForAnUnknownExportCloses() throws IOException {
        try (RawNbdClient c = fixture.connect().handshakeStart()) {
            c.sendOption(OPT_EXPORT_NAME, "nope".getBytes(StandardCharsets.UTF_8));
            assertTrue(c.closedByServer());
        }
        assertServerStillServes();
    }

    @Test
    void abortIsAcknowledgedThenClosed() throws IOException {
        try (RawNbdClient c = fixture.connect().handshakeStart()) {
            c.sendOption(OPT_ABORT, new byte[0]);
            assertEquals(REP_ACK, c.readOptionReply().type());
            assertTrue(c.closedByServer());
        }
        // a client that closes right after ABORT, without reading the ACK
        try (RawNbdClient c = fixture.connect().handshakeStart()) {
            c.sendOption(OPT_ABORT, new byte[0]);
        }
        assertServerStillServes();
    }

    @Test
    void infoAndGoGiveIdenticalAnswersWithTheRealBlockSizes() throws IOException {
        try (RawNbdClient c = fixture.connect().handshakeStart()) {
            byte[] request = RawNbdClient.infoData("disk", INFO_NAME, INFO_DESCRIPTION, INFO_BLOCK_SIZE);
            c.sendOption(OPT_INFO, request);
            List<OptionReply> info = c.readOptionReplies();
            c.sendOption(OPT_GO, request);
            List<OptionReply> go = c.readOptionReplies();
            assertEquals(info.size(), go.size());
            for (int i = 0; i < info.size(); i++) {
                assertEquals(info.get(i).type(), go.get(i).type());
                assertArrayEquals(info.get(i).data(), go.get(i).data());
            }
            boolean sawExport = false;
            boolean sawBlockSize = false;
            boolean sawName = false;
            for (OptionReply r : info.subList(0, info.size() - 1)) {
                assertEquals(REP_INFO, r.type());
                ByteBuffer b = ByteBuffer.wrap(r.data());
                switch (b.getShort()) {
                    case INFO_EXPORT:
                        sawExport = true;
                        assertEquals(ServerFixture.DISK_BYTES, b.getLong());
                        assertEquals(Handshake.transmissionFlags(false), b.getShort() & 0xffff);
                        break;
                    case INFO_BLOCK_SIZE:
                        sawBlockSize = true;
                        assertEquals(512, b.getInt());
                        assertEquals(4096, b.getInt());
                        assertEquals(32 << 20, b.getInt());
                        break;
                    case INFO_NAME:
                        sawName = true;
                        assertEquals("disk", StandardCharsets.UTF_8.decode(b).toString());
                        break;
                    default:
                        break;
                }
            }
            assertTrue(sawExport && sawBlockSize && sawName);
            assertEquals(REP_ACK, go.get(go.size() - 1).type());
            // transmission works after GO
            c.request(0, NbdCommand.FLUSH.type, 9, 0, 0, null);
            assertEquals(0, c.errorOf(9));
        }
    }

    @Test
    void malformedInfoRequestsAreInvalidAndUnknownExportsUnknown() throws IOException {
        try (RawNbdClient c = fixture.connect().handshakeStart()) {
            c.sendOption(OPT_INFO, RawNbdClient.infoData("nope"));
            assertEquals(REP_ERR_UNKNOWN, c.readOptionReply().type());

            c.sendOption(OPT_INFO, new byte[] {0, 0, 0});
            assertEquals(REP_ERR_INVALID, c.readOptionReply().type());

            byte[] nameTooLong = ByteBuffer.allocate(10).putInt(5).put("disk".getBytes(StandardCharsets.UTF_8))
                    .putShort((short) 0).array();
            c.sendOption(OPT_GO, nameTooLong);
            assertEquals(REP_ERR_INVALID, c.readOptionReply().type());

            byte[] countMismatch = ByteBuffer.allocate(10).putInt(4).put("disk".getBytes(StandardCharsets.UTF_8))
                    .putShort((short) 3).array();
            c.sendOption(OPT_INFO, countMismatch);
            assertEquals(REP_ERR_INVALID, c.readOptionReply().type());

            c.sendOption(OPT_INFO, RawNbdClient.infoData("x".repeat(5000)));
            assertEquals(REP_ERR_INVALID, c.readOptionReply().type());

            // the connection is still in haggling and usable
            assertEquals(Handshake.transmissionFlags(false), c.go("disk", false));
        }
    }

    @Test
    void structuredReplyOnceOnly() throws IOException {
        try (RawNbdClient c = fixture.connect().handshakeStart()) {
            c.sendOption(OPT_STRUCTURED_REPLY, new byte[] {0});
            assertEquals(REP_ERR_INVALID, c.readOptionReply().type());
            c.sendOption(OPT_STRUCTURED_REPLY, new byte[0]);
            assertEquals(REP_ACK, c.readOptionReply().type());
            c.sendOption(OPT_STRUCTURED_REPLY, new byte[0]);
            assertEquals(REP_ERR_INVALID, c.readOptionReply().type());
            // DF is offered only with structured replies
            c.sendOption(OPT_GO, RawNbdClient.infoData("disk"));
            int flags = -1;
            for (OptionReply r : c.readOptionReplies()) {
                ByteBuffer b = ByteBuffer.wrap(r.data());
                if (r.type() == REP_INFO && b.getShort() == INFO_EXPORT) {
                    flags = b.getShort(10) & 0xffff;
                }
            }
            assertEquals(Handshake.transmissionFlags(true), flags);
            assertTrue((flags & TX_SEND_DF) != 0 && (flags & TX_CAN_MULTI_CONN) != 0);
        }
    }

    @Test
    void metaContextsListAndSetBaseAllocation() throws IOException {
        try (RawNbdClient c = fixture.connect().handshakeStart()) {
            c.sendOption(OPT_SET_META_CONTEXT, RawNbdClient.metaContextData("disk", META_BASE_ALLOCATION));
            assertEquals(REP_ERR_INVALID, c.readOptionReply().type(), "SET before STRUCTURED_REPLY");

            c.sendOption(OPT_LIST_META_CONTEXT, RawNbdClient.metaContextData("disk"));
            List<OptionReply> all = c.readOptionReplies();
            assertEquals(2, all.size());
            assertMetaContext(all.get(0), 0);

            c.sendOption(OPT_LIST_META_CONTEXT, RawNbdClient.metaContextData("disk", "base:", "qemu:dirty-bitmap:x"));
            List<OptionReply> wildcard = c.readOptionReplies();
            assertEquals(2, wildcard.size());
            assertMetaContext(wildcard.get(0), 0);

            c.sendOption(OPT_LIST_META_CONTEXT, RawNbdClient.metaContextData("nope", "base:"));
            assertEquals(REP_ERR_UNKNOWN, c.readOptionReply().type());

            c.sendOption(OPT_STRUCTURED_REPLY, new byte[0]);
            assertEquals(REP_ACK, c.readOptionReply().type());
            c.sendOption(OPT_SET_META_CONTEXT, RawNbdClient.metaContextData("disk", "unknown:leaf", META_BASE_ALLOCATION));
            List<OptionReply> set = c.readOptionReplies();
            assertEquals(2, set.size());
            assertMetaContext(set.get(0), META_BASE_ALLOCATION_ID);
            assertEquals(REP_ACK, set.get(1).type());

            c.sendOption(OPT_GO, RawNbdClient.infoData("disk"));
            List<OptionReply> go = c.readOptionReplies();
            assertEquals(REP_ACK, go.get(go.size() - 1).type());
            // base:allocation is selected: BLOCK_STATUS answers one extent, flags 0
            c.request(CMD_FLAG_REQ_ONE, NbdCommand.BLOCK_STATUS.type, 3, 4096, 65536, null);
            RawNbdClient.Reply r = c.readReply(0);
            assertEquals(CHUNK_BLOCK_STATUS, r.type());
            assertTrue(r.done());
            ByteBuffer b = ByteBuffer.wrap(r.payload());
            assertEquals(META_BASE_ALLOCATION_ID, b.getInt());
            assertEquals(65536, b.getInt());
            assertEquals(0, b.getInt());
            assertEquals(0, b.remaining());
        }
    }

    private static void assertMetaContext(OptionReply r, int id) {
        assertEquals(REP_META_CONTEXT, r.type());
        ByteBuffer b = ByteBuffer.wrap(r.data());
        assertEquals(id, b.getInt());
        assertEquals(META_BASE_ALLOCATION, StandardCharsets.UTF_8.decode(b).toString());
    }

    @Test
    void starttlsIsRefusedByPolicyAndUnknownOptionsAreUnsupported() throws IOException {
        try (RawNbdClient c = fixture.connect().handshakeStart()) {
            c.sendOption(OPT_STARTTLS, new byte[0]);
            assertEquals(REP_ERR_POLICY, c.readOptionReply().type());
            c.sendOption(OPT_EXTENDED_HEADERS, new byte[0]);
            assertEquals(REP_ERR_UNSUP, c.readOptionReply().type());
            c.sendOption(0x7654321, new byte[] {1, 2, 3, 4}); // nbd-tester-client's handshake test
            OptionReply r = c.readOptionReply();
            assertEquals(0x7654321, r.option());
            assertEquals(REP_ERR_UNSUP, r.type());
            c.sendOption(4, new byte[0]); // PEEK_EXPORT, withdrawn from the protocol
            assertEquals(REP_ERR_UNSUP, c.readOptionReply().type());
            assertEquals(Handshake.transmissionFlags(true), c.go("disk", true));
        }
    }

    @Test
    void badOptionMagicDisconnects() throws IOException {
        try (RawNbdClient c = fixture.connect().handshakeStart()) {
            c.sendOptionHeader(0x1234567812345678L, OPT_LIST, 0);
            assertTrue(c.closedByServer());
        }
        assertServerStillServes();
    }

    @Test
    void clientFlagsWithUnknownBitsDisconnect() throws IOException {
        try (RawNbdClient c = fixture.connect()) {
            c.readGreeting();
            c.sendClientFlags(0x7);
            assertTrue(c.closedByServer());
        }
        assertServerStillServes();
    }

    @Test
    void hugeOptionLengthDisconnectsWithoutBuffering() throws IOException {
        try (RawNbdClient c = fixture.connect().handshakeStart()) {
            c.sendOptionHeader(OPTION_MAGIC, 0x7654321, 0xFFFF_FFF0L);
            assertTrue(c.closedByServer());
        }
        assertServerStillServes();
    }

    @Test
    void theDefaultExportIsTheOnlyOne() throws IOException {
        fixture.server.unexport("other");
        try (RawNbdClient c = fixture.connect().handshakeStart()) {
            c.sendOption(OPT_INFO, RawNbdClient.infoData("", INFO_NAME));
            List<OptionReply> replies = c.readOptionReplies();
            assertEquals(REP_ACK, replies.get(replies.size() - 1).type());
            assertEquals(INFO_NAME, ByteBuffer.wrap(replies.get(0).data()).getShort());
            assertEquals("disk", new String(replies.get(0).data(), 2, replies.get(0).data().length - 2,
                    StandardCharsets.UTF_8));
        }
    }

    @Test
    void optionsDuringShutdownGetErrShutdown() throws IOException {
        try (RawNbdClient c = fixture.connect().handshakeStart()) {
            c.sendOption(OPT_STRUCTURED_REPLY, new byte[0]);
            assertEquals(REP_ACK, c.readOptionReply().type());
            fixture.server.beginShutdown();
            c.sendOption(OPT_GO, RawNbdClient.infoData("disk"));
            assertEquals(REP_ERR_SHUTDOWN, c.readOptionReply().type());
            c.sendOption(OPT_LIST, new byte[0]);
            assertEquals(REP_ERR_SHUTDOWN, c.readOptionReply().type());
            fixture.server.close();
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void handshakeTimeoutDropsSilentClients() throws IOException {
        try (ServerFixture quick = new ServerFixture(NbdServerConfig.defaults()
                .withHandshakeTimeout(java.time.Duration.ofSeconds(2)));
             RawNbdClient c = quick.connect()) {
            c.readGreeting();
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void connectionsBeyondTheLimitAreClosed() throws IOException {
        try (ServerFixture limited = new ServerFixture(NbdServerConfig.defaults().withMaxConnections(1));
             RawNbdClient first = limited.connect()) {
            first.readGreeting();
            try (RawNbdClient second = limited.connect()) {
                assertTrue(second.closedByServer());
            }
        }
    }
}
