package pcache.export.nbd.internal;

import static pcache.api.nbd.NbdWire.*;
import static pcache.export.nbd.internal.NbdProtocol.*;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import pcache.api.nbd.NbdWire;

/**
 * Drives one client byte stream through the server's real decoding code — {@link Handshake}, then
 * {@link RequestReader}, {@link RequestValidator} and {@link RequestExecutor} — synchronously and
 * in memory, and checks every answer against an independent reading of the same bytes
 * ({@link ClientStream}) and a shadow copy of each device. Used by the Jazzer fuzz tests and the
 * bounded random slice that runs in CI.
 *
 * <p>What it asserts (an {@link AssertionError} or any unexpected exception is a finding):
 * <ul>
 * <li>nothing escapes the decoder but the documented endings: {@link Handshake.Ended}, and
 * {@link EOFException} when the input stops in the middle of something;</li>
 * <li>the server ends exactly where the client broke a MUST (bad flags, bad magic, oversized
 * option, unknown EXPORT_NAME, absurd WRITE payload), answers every other complete option with
 * exactly one final reply echoing it, and every complete request with exactly one reply
 * echoing its cookie, with the right shape for simple or structured replies;</li>
 * <li>requests the reference rules call valid succeed, the others fail with an NBD error and
 * change nothing; reads return what the shadow holds;</li>
 * <li>heap allocated per option or request stays bounded by the real data involved, never by a
 * length the client claims;</li>
 * <li>afterwards a well-behaved client on the same exports still works.</li>
 * </ul>
 */
final class SessionDriver {
    static final int DISK_BYTES = 128 << 10;
    static final int OTHER_BYTES = 32 << 10;
    /** Heap one option or request may allocate beyond the data it really carries or returns. */
    static final long ALLOCATION_SLACK_BYTES = 512 << 10;

    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    /**
     * Class loading, lambda bootstrap and JIT allocate megabytes the first time a path runs;
     * the allocation bounds hold from the second time on, so every driver first waits for one
     * unchecked pass over the seeds (once per JVM).
     */
    private static final class WarmUp {
        static final boolean DONE = run();

        private static boolean run() {
            // both kinds of seeds, whichever test class runs first: what the transmission paths
            // link and load the first time must not count against a handshake, nor the reverse
            for (int round = 0; round < 3; round++) {
                for (byte[] seed : SeedCorpus.handshakeSeeds().values()) {
                    try {
                        new SessionDriver(false).runHandshake(seed);
                    } catch (IOException | RuntimeException | AssertionError e) {
                        throw new IllegalStateException("a seed fails: fix that first", e);
                    }
                }
                for (byte[] seed : SeedCorpus.transmissionSeeds().values()) {
                    if (seed.length == 0) {
                        continue;
                    }
                    try {
                        boolean structured = (seed[0] & 1) != 0;
                        new SessionDriver(false).runTransmission(java.util.Arrays.copyOfRange(seed, 1, seed.length),
                                structured, (seed[0] & 2) != 0, structured && (seed[0] & 4) != 0);
                    } catch (IOException | RuntimeException | AssertionError e) {
                        throw new IllegalStateException("a seed fails: fix that first", e);
                    }
                }
            }
            return true;
        }
    }

    private final boolean checkAllocations;

    SessionDriver() {
        this(WarmUp.DONE);
    }

    private SessionDriver(boolean checkAllocations) {
        this.checkAllocations = checkAllocations;
    }

    final MemoryBlockDevice disk = new MemoryBlockDevice("disk", DISK_BYTES);
    final MemoryBlockDevice other = new MemoryBlockDevice("other", OTHER_BYTES);
    private final byte[] diskShadow = new byte[DISK_BYTES];
    private final byte[] otherShadow = new byte[OTHER_BYTES];
    final Export diskExport = new Export("disk", disk, "the fuzzed disk");
    final Export otherExport = new Export("other", other, "another export");
    private final BufferPool pool = new BufferPool();

    private final ExportDirectory directory = new ExportDirectory() {
        @Override
        public Export find(String name) {
            return name.equals("disk") ? diskExport : name.equals("other") ? otherExport : null;
        }

        @Override
        public List<Export> list() {
            return List.of(diskExport, otherExport);
        }

        @Override
        public boolean isShuttingDown() {
            return false;
        }
    };

    /** How a run ended, for statistics and tests. */
    enum End { SESSION_CLOSED, HANDSHAKE_ENDED, TRUNCATED, DISCONNECTED, DISC }

    /**
     * Zeroes both devices and their shadows, so a driver can be reused for the next input with
     * the same starting state as a new one (fuzzing speed; findings stay reproducible alone).
     */
    void reset() {
        disk.clear();
        other.clear();
        Arrays.fill(diskShadow, (byte) 0);
        Arrays.fill(otherShadow, (byte) 0);
    }

    // ------------------------------------------------------------------ handshake

    /**
     * Runs {@code input} as everything a client sends after the server greeting: client flags,
     * options and, if it gets that far, transmission requests.
     */
    End runHandshake(byte[] input) throws IOException {
        ClientStream.Handshake expected = ClientStream.Handshake.parse(input, directory);
        ChannelInput in = new ChannelInput(Channels.newChannel(new ByteArrayInputStream(input)));
        CapturingChannel out = new CapturingChannel(64 * 1024 + 64L * input.length);
        Handshake handshake = new Handshake(in, out, directory, export -> true, "fuzz");
        long allocatedBefore = allocatedBytes();
        Session session = null;
        Handshake.Ended ended = null;
        boolean truncated = false;
        try {
            session = handshake.negotiate();
        } catch (Handshake.Ended e) {
            ended = e;
        } catch (EOFException e) {
            truncated = true;
        }
        long allocated = allocatedBytes() - allocatedBefore;
        // Option data is read into an array of the announced size, so one truncated option may
        // cost up to the 64 KiB limit; everything else is proportional to bytes really sent.
        long bound = ALLOCATION_SLACK_BYTES + Handshake.MAX_OPTION_DATA_BYTES + 16L * input.length;
        check(!checkAllocations || allocated <= bound, "handshake allocated " + allocated + " bytes for a " + input.length
                + "-byte input (bound " + bound + ")");
        expected.checkAnswers(out.bytes(), session, ended, truncated);
        if (session == null) {
            return truncated ? End.TRUNCATED : End.HANDSHAKE_ENDED;
        }
        return runTransmission(in, session, input, expected.transmissionStart());
    }

    // ------------------------------------------------------------------ transmission

    /**
     * Runs {@code requests} as the transmission phase of a session negotiated with the given
     * options (what the handshake fuzz target reaches only rarely, fuzzed directly).
     */
    End runTransmission(byte[] requests, boolean structured, boolean otherExportChosen, boolean metaContext)
            throws IOException {
        ChannelInput in = new ChannelInput(Channels.newChannel(new ByteArrayInputStream(requests)));
        Session session = new Session(otherExportChosen ? otherExport : diskExport, structured, metaContext);
        return runTransmission(in, session, requests, 0);
    }

    private End runTransmission(ChannelInput in, Session session, byte[] stream, int start) throws IOException {
        Export export = session.export();
        byte[] shadow = export == diskExport ? diskShadow : otherShadow;
        TransmissionLimits limits = session.limits();
        ClientStream.Requests expected = new ClientStream.Requests(stream, start);
        RequestReader reader = new RequestReader(in, limits, export, "fuzz");
        RequestExecutor executor = new RequestExecutor(export, session.structuredReplies(),
                session.metaContexts(), pool, true);
        while (true) {
            ClientStream.Next next = expected.next();
            long allocatedBefore = allocatedBytes();
            RequestReader.Incoming incoming;
            try {
                incoming = reader.next();
            } catch (EOFException e) {
                // a refused WRITE's payload is skipped inside next()
                check(next.kind() == ClientStream.Kind.TRUNCATED || next.kind() == ClientStream.Kind.TRUNCATED_PAYLOAD,
                        "EOF where the client stream has " + next);
                return End.TRUNCATED;
            }
            if (incoming == null) {
                check(next.kind() == ClientStream.Kind.END || next.kind() == ClientStream.Kind.BAD_MAGIC
                        || next.kind() == ClientStream.Kind.ABSURD_PAYLOAD,
                        "server disconnected where the client stream has " + next);
                return End.DISCONNECTED;
            }
            check(next.kind() == ClientStream.Kind.REQUEST || next.kind() == ClientStream.Kind.TRUNCATED_PAYLOAD,
                    "server decoded " + incoming.request() + " where the client stream has " + next);
            NbdRequest request = incoming.request();
            check(request.equals(next.request()), "decoded " + request + ", sent " + next.request());
            Expectation expectation = Expectation.of(request, limits);
            if (incoming.isDisconnect()) {
                check(expectation.valid(), "DISC accepted although invalid: " + request);
                return End.DISC;
            }
            check((incoming.rejection() == null) == expectation.valid(), request.describe() + ": server says "
                    + incoming.rejection() + ", reference rules say " + expectation);
            ByteBuffer[] reply;
            ByteBuffer pooled = null;
            if (incoming.rejection() != null) {
                check(expectation.allowedErrors().contains(incoming.rejection().error()),
                        request.describe() + ": " + incoming.rejection() + " is not one of " + expectation.allowedErrors());
                reply = new ByteBuffer[] {RequestExecutor.errorReply(request, session.structuredReplies(),
                        incoming.rejection().error(), incoming.rejection().reason())};
            } else {
                ByteBuffer data;
                try {
                    data = reader.readPayload(request, pool);
                } catch (EOFException e) {
                    check(next.kind() == ClientStream.Kind.TRUNCATED_PAYLOAD, "EOF in a payload the client sent whole");
                    return End.TRUNCATED;
                }
                check(next.kind() == ClientStream.Kind.REQUEST, "a truncated payload was read whole");
                byte[] written = data == null ? null : bytesOf(data);
                RequestExecutor.ReplyContent content = executor.execute(request, data);
                reply = content.buffers();
                pooled = content.pooled();
                if (pooled != data) {
                    pool.release(data);
                }
                applyToShadow(request, written, shadow);
            }
            checkReply(request, reply, session.structuredReplies(), incoming.rejection() == null, shadow);
            pool.release(pooled);
            long allocated = allocatedBytes() - allocatedBefore;
            long real = expectation.valid() ? Math.min(request.length(), DISK_BYTES) : 0;
            check(!checkAllocations || allocated <= ALLOCATION_SLACK_BYTES + 3 * real, request.describe() + " allocated " + allocated
                    + " bytes");
        }
    }

    private static byte[] bytesOf(ByteBuffer data) {
        byte[] b = new byte[data.remaining()];
        data.duplicate().get(b);
        return b;
    }

    private static void applyToShadow(NbdRequest request, byte[] written, byte[] shadow) {
        int offset = (int) request.offset();
        if (request.command() == NbdCommand.WRITE && written != null) {
            System.arraycopy(written, 0, shadow, offset, written.length);
        } else if (request.command() == NbdCommand.WRITE_ZEROES) {
            Arrays.fill(shadow, offset, offset + (int) request.length(), (byte) 0);
        }
        // TRIM leaves the content undefined by the spec; MemoryBlockDevice keeps it, and so do we.
    }

    private static void checkReply(NbdRequest request, ByteBuffer[] buffers, boolean structured, boolean success,
                                   byte[] shadow) {
        ByteBuffer b = concat(buffers);
        int magic = b.getInt();
        boolean readPayload = request.command() == NbdCommand.READ;
        boolean blockStatus = request.command() == NbdCommand.BLOCK_STATUS;
        if (magic == SIMPLE_REPLY_MAGIC) {
            check(!(structured && (readPayload || blockStatus)), "simple reply to a " + request.command()
                    + " although structured replies were negotiated");
            int error = b.getInt();
            check(b.getLong() == request.cookie(), "cookie not echoed");
            check((error == 0) == success, "simple reply error " + error + " for " + request.describe());
            if (success && readPayload) {
                checkData(b, request, shadow);
            }
            check(!b.hasRemaining(), "bytes after a simple reply");
            return;
        }
        check(structured && magic == STRUCTURED_REPLY_MAGIC, "bad reply magic 0x" + Integer.toHexString(magic));
        int flags = Short.toUnsignedInt(b.getShort());
        int type = Short.toUnsignedInt(b.getShort());
        check(b.getLong() == request.cookie(), "cookie not echoed");
        int length = b.getInt();
        check(flags == REPLY_FLAG_DONE, "one chunk per reply, marked DONE");
        check(length == b.remaining(), "chunk length " + length + " but " + b.remaining() + " bytes follow");
        if (!success) {
            check(type == CHUNK_ERROR, "error chunk expected, got type " + type);
            int error = b.getInt();
            check(error != 0, "error chunk with error 0");
            int messageLength = Short.toUnsignedInt(b.getShort());
            check(messageLength == b.remaining() && messageLength <= MAX_STRING_BYTES, "error message length");
            return;
        }
        if (readPayload) {
            if (request.length() == 0) {
                check(type == CHUNK_NONE && length == 0, "0-byte READ answered with type " + type);
                return;
            }
            check(type == CHUNK_OFFSET_DATA, "READ answered with chunk type " + type);
            check(b.getLong() == request.offset(), "OFFSET_DATA offset");
            checkData(b, request, shadow);
        } else if (blockStatus) {
            check(type == CHUNK_BLOCK_STATUS && length == 12, "BLOCK_STATUS chunk");
            check(b.getInt() == META_BASE_ALLOCATION_ID, "context id");
            check(Integer.toUnsignedLong(b.getInt()) == request.length(), "one extent covering the request");
            b.getInt();
        } else {
            check(false, "structured chunk type " + type + " for " + request.describe());
        }
    }

    private static void checkData(ByteBuffer b, NbdRequest request, byte[] shadow) {
        int length = (int) request.length();
        check(b.remaining() == length, "READ returned " + b.remaining() + " bytes for " + length);
        byte[] got = new byte[length];
        b.get(got);
        int offset = (int) request.offset();
        check(Arrays.equals(got, 0, length, shadow, offset, offset + length),
                "READ at " + offset + "+" + length + " differs from what was written");
    }

    private static ByteBuffer concat(ByteBuffer[] buffers) {
        int total = 0;
        for (ByteBuffer b : buffers) {
            total += b.remaining();
        }
        ByteBuffer all = ByteBuffer.allocate(total);
        for (ByteBuffer b : buffers) {
            all.put(b.duplicate());
        }
        return all.flip();
    }

    // ------------------------------------------------------------------ afterwards

    /**
     * A well-behaved client on the same exports: structured replies, GO "disk", write, read back,
     * then EXPORT_NAME "other" without structured replies and a read. Fails if anything a fuzzed
     * input did left the exports unusable.
     */
    void checkStillServes() throws IOException {
        ByteArrayOutputStream client = new ByteArrayOutputStream();
        ClientStream.Writer w = new ClientStream.Writer(client);
        byte[] pattern = new byte[4096];
        Arrays.fill(pattern, (byte) 0x5a);
        w.flags(CLIENT_FLAGS_KNOWN).option(OPT_STRUCTURED_REPLY, new byte[0])
                .option(OPT_GO, RawNbdClient.infoData("disk", INFO_BLOCK_SIZE))
                .request(0, NbdCommand.WRITE.type, 1, 8192, 4096).raw(pattern)
                .request(0, NbdCommand.READ.type, 2, 8192, 4096)
                .request(0, NbdCommand.DISC.type, 3, 0, 0);
        End end = runHandshake(client.toByteArray());
        check(end == End.DISC, "well-behaved client ended with " + end);
        check(Arrays.equals(disk.snapshot(8192, 4096), pattern), "well-behaved write did not land");
    }

    // ------------------------------------------------------------------ helpers

    static long allocatedBytes() {
        return THREADS.getThreadAllocatedBytes(Thread.currentThread().getId());
    }

    static void check(boolean condition, String message) {
        if (!condition) {
            throw new AssertionError(message);
        }
    }

    /** Collects what the server writes, failing if it writes more than {@code limit} bytes. */
    static final class CapturingChannel implements WritableByteChannel {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private final long limit;

        CapturingChannel(long limit) {
            this.limit = limit;
        }

        @Override
        public int write(ByteBuffer src) {
            int n = src.remaining();
            check(bytes.size() + (long) n <= limit, "server wrote more than " + limit + " bytes");
            byte[] b = new byte[n];
            src.get(b);
            bytes.write(b, 0, n);
            return n;
        }

        byte[] bytes() {
            return bytes.toByteArray();
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
        }
    }

    /**
     * What the reference rules (the spec summary, not the server's code) say about a request:
     * whether it is valid and which errors may refuse it.
     */
    record Expectation(boolean valid, List<NbdError> allowedErrors) {
        static Expectation of(NbdRequest r, TransmissionLimits limits) {
            List<NbdError> einval = List.of(NbdError.EINVAL);
            int type = r.type();
            if (type > 7) {
                return new Expectation(false, einval);
            }
            int allowed = switch (type) {
                case 0 -> CMD_FLAG_FUA | CMD_FLAG_DF;
                case 6 -> CMD_FLAG_FUA | CMD_FLAG_NO_HOLE | CMD_FLAG_FAST_ZERO;
                case 7 -> CMD_FLAG_FUA | CMD_FLAG_REQ_ONE;
                default -> CMD_FLAG_FUA;
            };
            if ((r.flags() & ~allowed) != 0 || ((r.flags() & CMD_FLAG_DF) != 0 && !limits.structuredReplies())) {
                return new Expectation(false, einval);
            }
            if (type == 2 || type == 3) { // DISC, FLUSH
                return new Expectation(r.offset() == 0 && r.length() == 0, einval);
            }
            if ((type == 0 || type == 1) && r.length() > MAX_PAYLOAD_BYTES) {
                return new Expectation(false, einval);
            }
            if (type == 7 && !limits.metaContextSelected()) {
                return new Expectation(false, einval);
            }
            boolean writes = type == 1 || type == 6;
            if (Long.compareUnsigned(r.offset(), limits.sizeBytes()) > 0
                    || r.length() > limits.sizeBytes() - r.offset()) {
                return new Expectation(false, writes ? List.of(NbdError.ENOSPC) : einval);
            }
            if (((r.offset() | r.length()) % limits.blockSize()) != 0 || (type == 7 && r.length() == 0)) {
                return new Expectation(false, einval);
            }
            if (type == 6 && (r.flags() & CMD_FLAG_FAST_ZERO) != 0) {
                return new Expectation(false, List.of(NbdError.ENOTSUP));
            }
            return new Expectation(true, List.of());
        }
    }

    static String utf8(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }
}
