package pcache.export.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static pcache.api.nbd.NbdWire.*;
import static pcache.export.nbd.internal.NbdProtocol.*;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import pcache.api.BlockExtent;
import pcache.api.DataIntegrityException;

/**
 * BLOCK_STATUS with the two metadata contexts: {@code base:allocation} and {@code pcache:dirty}
 * listed and selected as the protocol says, one chunk per selected context, extents limited (one
 * with REQ_ONE), and the answers real clients read: {@code nbdinfo --map},
 * {@code nbdinfo --map=pcache:dirty}, {@code qemu-img map} and {@code nbdcopy}, which must skip
 * the holes. The device is a test double whose status the test sets, so the export's side is
 * checked here; the cache's own answer is {@code BlockStatusModelTest}'s (pcache.engine).
 */
@Timeout(60)
class BlockStatusTest {
    private static final Duration TOOL_TIMEOUT = Duration.ofSeconds(30);
    private static final int SIZE = 16 << 20;
    private static final int MIB = 1 << 20;

    @TempDir
    Path dir;

    private NbdServer server;
    private StatusCacheDevice cache;
    private MemoryBlockDevice plain;
    private InetSocketAddress address;
    private ExternalProcesses processes;

    @BeforeEach
    void start() throws IOException {
        server = new NbdServer(NbdServerConfig.defaults().withDrainTimeout(Duration.ofSeconds(5)));
        cache = new StatusCacheDevice("cache", SIZE);
        plain = new MemoryBlockDevice("plain", MIB);
        server.export("cache", cache);
        server.export("plain", plain);
        address = (InetSocketAddress) server.listen(ListenAddress.parse("127.0.0.1:0"));
        processes = new ExternalProcesses(dir);
        // 1 MiB of data, 2 MiB written as zeroes, the rest a hole; 64 KiB of the data dirty
        cache.setAllocation(0, SIZE, BlockExtent.HOLE | BlockExtent.ZERO);
        cache.setAllocation(0, MIB, 0);
        cache.setAllocation(4 * MIB, 2 * MIB, BlockExtent.ZERO);
        cache.setDirty(64 << 10, 64 << 10, true);
    }

    @AfterEach
    void stop() throws InterruptedException {
        processes.destroyAll();
        server.close();
    }

    private String uri(String export) {
        return "nbd://127.0.0.1:" + address.getPort() + "/" + export;
    }

    @Test
    void listOffersPcacheDirtyOnCachesOnly() throws IOException {
        try (RawNbdClient c = RawNbdClient.connect(address).handshakeStart()) {
            assertEquals(List.of(META_BASE_ALLOCATION, META_PCACHE_DIRTY), listed(c, "cache"));
            assertEquals(List.of(META_PCACHE_DIRTY), listed(c, "cache", "pcache:"));
            assertEquals(List.of(META_BASE_ALLOCATION), listed(c, "cache", "base:"));
            assertEquals(List.of(META_PCACHE_DIRTY), listed(c, "cache", "pcache:dirty", "pcache:other"));
            assertEquals(List.of(META_BASE_ALLOCATION), listed(c, "plain"));
            assertEquals(List.of(), listed(c, "plain", "pcache:", "pcache:dirty"));
        }
    }

    private static List<String> listed(RawNbdClient c, String export, String... queries) throws IOException {
        c.sendOption(OPT_LIST_META_CONTEXT, RawNbdClient.metaContextData(export, queries));
        List<String> names = new ArrayList<>();
        for (RawNbdClient.OptionReply r : c.readOptionReplies()) {
            if (r.type() == REP_META_CONTEXT) {
                ByteBuffer b = ByteBuffer.wrap(r.data());
                assertEquals(0, b.getInt(), "LIST hands out no ids");
                names.add(StandardCharsets.UTF_8.decode(b).toString());
            } else {
                assertEquals(REP_ACK, r.type());
            }
        }
        return names;
    }

    /** Opens "cache" with structured replies and the given contexts selected; returns the ids handed out. */
    private static List<Integer> select(RawNbdClient c, String... contexts) throws IOException {
        c.sendOption(OPT_STRUCTURED_REPLY, new byte[0]);
        assertEquals(REP_ACK, c.readOptionReply().type());
        c.sendOption(OPT_SET_META_CONTEXT, RawNbdClient.metaContextData("cache", contexts));
        List<Integer> ids = new ArrayList<>();
        for (RawNbdClient.OptionReply r : c.readOptionReplies()) {
            if (r.type() == REP_META_CONTEXT) {
                ids.add(ByteBuffer.wrap(r.data()).getInt());
            }
        }
        c.sendOption(OPT_GO, RawNbdClient.infoData("cache"));
        List<RawNbdClient.OptionReply> go = c.readOptionReplies();
        assertEquals(REP_ACK, go.get(go.size() - 1).type());
        return ids;
    }

    /** One BLOCK_STATUS chunk: context id and descriptors as {length, flags}. */
    private record Chunk(boolean done, int context, List<long[]> extents) {
    }

    private static Chunk chunk(RawNbdClient c, long cookie) throws IOException {
        RawNbdClient.Reply r = c.readReply(0);
        assertEquals(cookie, r.cookie());
        assertEquals(CHUNK_BLOCK_STATUS, r.type(), "chunk type");
        ByteBuffer b = ByteBuffer.wrap(r.payload());
        int context = b.getInt();
        List<long[]> extents = new ArrayList<>();
        while (b.hasRemaining()) {
            extents.add(new long[] {Integer.toUnsignedLong(b.getInt()), b.getInt()});
        }
        return new Chunk(r.done(), context, extents);
    }

    @Test
    void bothContextsAnswerInOneReplyOneChunkEach() throws IOException {
        try (RawNbdClient c = RawNbdClient.connect(address).handshakeStart()) {
            assertEquals(List.of(META_BASE_ALLOCATION_ID, META_PCACHE_DIRTY_ID),
                    select(c, META_PCACHE_DIRTY, "unknown:x", META_BASE_ALLOCATION));
            c.request(0, NbdCommand.BLOCK_STATUS.type, 7, 0, 8 * MIB, null);
            Chunk allocation = chunk(c, 7);
            assertFalse(allocation.done());
            assertEquals(META_BASE_ALLOCATION_ID, allocation.context());
            assertEquals("[1048576:0, 3145728:3, 2097152:2, 2097152:3]", show(allocation));
            Chunk dirty = chunk(c, 7);
            assertTrue(dirty.done());
            assertEquals(META_PCACHE_DIRTY_ID, dirty.context());
            assertEquals("[65536:0, 65536:1, 8257536:0]", show(dirty));

            // REQ_ONE: one extent per context, never longer than asked
            c.request(CMD_FLAG_REQ_ONE, NbdCommand.BLOCK_STATUS.type, 8, 96 << 10, 8 * MIB, null);
            assertEquals("[950272:0]", show(chunk(c, 8)));
            assertEquals("[32768:1]", show(chunk(c, 8)));
            c.request(CMD_FLAG_REQ_ONE, NbdCommand.BLOCK_STATUS.type, 9, 5 * MIB, 4096, null);
            assertEquals("[4096:2]", show(chunk(c, 9)));
            assertEquals("[4096:0]", show(chunk(c, 9)));
        }
    }

    /**
     * A BLOCK_STATUS request holds the bytes of the largest reply it can get (both contexts, as
     * many extents as a chunk takes) of its connection's in-flight budget, as a READ holds its
     * data's: a client that pipelines them and never reads its replies stops the connection's
     * reading once the budget is spent. Before, it held none, and such replies piled up outside
     * every bound (16 KiB each).
     */
    @Test
    void aBlockStatusRequestHoldsItsLargestReplyInTheConnectionsBudget() throws IOException {
        for (int block = 0; block < SIZE / StatusCacheDevice.BLOCK; block++) {
            long at = (long) block * StatusCacheDevice.BLOCK;
            cache.setAllocation(at, StatusCacheDevice.BLOCK, block % 2 == 0 ? 0 : BlockExtent.HOLE | BlockExtent.ZERO);
            cache.setDirty(at, StatusCacheDevice.BLOCK, block % 2 == 0);
        }
        MetaContexts both = MetaContexts.of(List.of(new MetaContexts.Context(META_BASE_ALLOCATION,
                META_BASE_ALLOCATION_ID), new MetaContexts.Context(META_PCACHE_DIRTY, META_PCACHE_DIRTY_ID)));
        for (int flags : new int[] {0, CMD_FLAG_REQ_ONE}) {
            NbdRequest request = new NbdRequest(flags, NbdCommand.BLOCK_STATUS.type, 1, 0, SIZE);
            long replyBytes = 0;
            for (ByteBuffer chunk : new BlockStatusReply(cache, both).reply(request)) {
                replyBytes += chunk.remaining();
            }
            assertTrue(replyBytes >= (flags == 0 ? 2 * 8 * MAX_BLOCK_STATUS_EXTENTS : 2 * 8), "the largest reply: "
                    + replyBytes);
            assertTrue(replyBytes <= RequestExecutor.budgetBytes(request), replyBytes + " bytes of reply, "
                    + RequestExecutor.budgetBytes(request) + " of budget held");
        }
    }

    @Test
    void dirtyAloneAnswersInOneChunkAndExtentsAreCapped() throws IOException {
        cache.setDirty(0, SIZE, false);
        for (int block = 0; block < SIZE / StatusCacheDevice.BLOCK; block += 2) {
            cache.setDirty((long) block * StatusCacheDevice.BLOCK, StatusCacheDevice.BLOCK, true);
        }
        try (RawNbdClient c = RawNbdClient.connect(address).handshakeStart()) {
            assertEquals(List.of(META_PCACHE_DIRTY_ID), select(c, META_PCACHE_DIRTY));
            c.request(0, NbdCommand.BLOCK_STATUS.type, 1, 0, SIZE, null);
            Chunk dirty = chunk(c, 1);
            assertTrue(dirty.done());
            assertEquals(META_PCACHE_DIRTY_ID, dirty.context());
            assertEquals(MAX_BLOCK_STATUS_EXTENTS, dirty.extents().size(), "the reply is capped");
            long covered = 0;
            for (int i = 0; i < dirty.extents().size(); i++) {
                assertEquals(StatusCacheDevice.BLOCK, dirty.extents().get(i)[0]);
                assertEquals(i % 2 == 0 ? 1 : 0, dirty.extents().get(i)[1]);
                covered += dirty.extents().get(i)[0];
            }
            assertTrue(covered < SIZE);
            // the connection goes on: the client asks again from where the answer ended
            c.request(0, NbdCommand.BLOCK_STATUS.type, 2, covered, SIZE - covered, null);
            assertEquals(1, chunk(c, 2).extents().get(0)[1]);
        }
    }

    @Test
    void aFailingDeviceGetsAnErrorReplyAndTheConnectionGoesOn() throws IOException {
        try (RawNbdClient c = RawNbdClient.connect(address).handshakeStart()) {
            select(c, META_BASE_ALLOCATION, META_PCACHE_DIRTY);
            cache.statusFailure = new DataIntegrityException("cache", 0, MIB);
            c.request(0, NbdCommand.BLOCK_STATUS.type, 1, 0, MIB, null);
            RawNbdClient.Reply r = c.readReply(0);
            assertTrue(r.done() && r.error() != 0, "error chunk");
            cache.statusFailure = null;
            c.request(0, NbdCommand.BLOCK_STATUS.type, 2, 0, MIB, null);
            assertEquals("[1048576:0]", show(chunk(c, 2)));
            assertEquals("[65536:0, 65536:1, 917504:0]", show(chunk(c, 2)));
        }
    }

    @Test
    void nbdinfoMapsAllocationAndDirtyRanges() throws Exception {
        ExternalProcesses.assumeInstalled("nbdinfo");
        ExternalProcesses.Result map = processes.run(TOOL_TIMEOUT, "nbdinfo", "--map", uri("cache"));
        assertEquals(0, map.exitCode(), map.all());
        assertEquals(List.of("0 1048576 0 data", "1048576 3145728 3 hole,zero", "4194304 2097152 2 zero",
                "6291456 10485760 3 hole,zero"), lines(map.stdout()));
        ExternalProcesses.Result dirty = processes.run(TOOL_TIMEOUT, "nbdinfo", "--map=pcache:dirty", uri("cache"));
        assertEquals(0, dirty.exitCode(), dirty.all());
        assertEquals(List.of("0 65536 0", "65536 65536 1", "131072 16646144 0"), lines(dirty.stdout()));
    }

    /** nbdinfo's map lines with the columns' padding squeezed out. */
    private static List<String> lines(String out) {
        List<String> lines = new ArrayList<>();
        for (String line : out.split("\n")) {
            if (!line.isBlank()) {
                lines.add(line.trim().replaceAll("\\s+", " "));
            }
        }
        return lines;
    }

    @Test
    void qemuImgMapShowsDataZeroesAndHoles() throws Exception {
        ExternalProcesses.assumeInstalled("qemu-img");
        ExternalProcesses.Result map = processes.run(TOOL_TIMEOUT, "qemu-img", "map", "--output=json", "-f", "raw",
                uri("cache"));
        assertEquals(0, map.exitCode(), map.all());
        String json = map.stdout().replaceAll("\\s+", "");
        // qemu calls every range of a raw NBD image present; data false = a hole, zero true = reads as zeroes
        assertTrue(json.contains("{\"start\":0,\"length\":1048576,\"depth\":0,\"present\":true,\"zero\":false,"
                + "\"data\":true"), json);
        assertTrue(json.contains("{\"start\":1048576,\"length\":3145728,\"depth\":0,\"present\":true,"
                + "\"zero\":true,\"data\":false"), json);
        assertTrue(json.contains("{\"start\":4194304,\"length\":2097152,\"depth\":0,\"present\":true,"
                + "\"zero\":true,\"data\":true"), json);
        assertTrue(json.contains("{\"start\":6291456,\"length\":10485760,\"depth\":0,\"present\":true,"
                + "\"zero\":true,\"data\":false"), json);
    }

    @Test
    void nbdcopySkipsTheHoles() throws Exception {
        ExternalProcesses.assumeInstalled("nbdcopy");
        Path copy = dir.resolve("copy.img");
        ExternalProcesses.Result r = processes.run(TOOL_TIMEOUT, "nbdcopy", uri("cache"), copy.toString());
        assertEquals(0, r.exitCode(), r.all());
        assertEquals(SIZE, java.nio.file.Files.size(copy));
        long readBytes = cache.bytesReadForTest();
        assertTrue(readBytes <= 2 * MIB, "nbdcopy read " + readBytes + " bytes of a 16 MiB export holding 1 MiB");
        ExternalProcesses.Result blocks = processes.run(TOOL_TIMEOUT, "stat", "-c", "%b %B", copy.toString());
        String[] f = blocks.stdout().trim().split(" ");
        long allocated = Long.parseLong(f[0]) * Long.parseLong(f[1]);
        assertTrue(allocated <= 2 * MIB, "the copy stays sparse: " + allocated + " bytes allocated");
    }

    private static String show(Chunk chunk) {
        List<String> parts = new ArrayList<>();
        for (long[] e : chunk.extents()) {
            parts.add(e[0] + ":" + e[1]);
        }
        return parts.toString();
    }
}
