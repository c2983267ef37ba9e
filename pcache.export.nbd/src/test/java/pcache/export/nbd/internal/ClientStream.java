package pcache.export.nbd.internal;

import static pcache.api.nbd.NbdWire.*;
import static pcache.export.nbd.internal.NbdProtocol.*;
import static pcache.export.nbd.internal.SessionDriver.check;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The client's side of an NBD byte stream, read independently of the server's code: where the
 * options and requests are, where the client broke a MUST, and what the server must answer to
 * each option (from the protocol summary, not from {@link Handshake}). Also a {@link Writer} to
 * build such streams (fuzz seeds, well-behaved clients).
 */
final class ClientStream {
    private ClientStream() {
    }

    /** The options part of a stream, checked against what the server wrote back. */
    static final class Handshake {
        private final byte[] input;
        private final ExportDirectory directory;
        private int transmissionStart = -1;
        /** The export the last INFO or GO named, if it exists. */
        private Export named;

        private Handshake(byte[] input, ExportDirectory directory) {
            this.input = input;
            this.directory = directory;
        }

        static Handshake parse(byte[] input, ExportDirectory directory) {
            return new Handshake(input, directory);
        }

        /** Offset of the first transmission byte (after GO or EXPORT_NAME). */
        int transmissionStart() {
            return transmissionStart;
        }

        /**
         * Walks the client's options and the server's output in lockstep.
         *
         * @param out everything the server wrote
         * @param session what negotiate() returned, or null
         * @param ended how the server ended the handshake, or null
         * @param truncated whether negotiate() hit the end of the input
         */
        void checkAnswers(byte[] out, Session session, pcache.export.nbd.internal.Handshake.Ended ended,
                          boolean truncated) {
            ByteBuffer o = ByteBuffer.wrap(out);
            ByteBuffer in = ByteBuffer.wrap(input);
            check(o.remaining() >= 18 && o.getLong() == INIT_PASSWD && o.getLong() == OPTION_MAGIC
                    && o.getShort() == (FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES), "bad greeting");
            if (in.remaining() < 4) {
                expectTruncated(o, session, ended, truncated);
                return;
            }
            int flags = in.getInt();
            if ((flags & ~CLIENT_FLAGS_KNOWN) != 0) {
                expectEnded(o, session, ended, truncated, true, "unknown client flags");
                return;
            }
            boolean noZeroes = (flags & CLIENT_FLAG_NO_ZEROES) != 0;
            boolean structured = false;
            int options = 0;
            while (true) {
                if (in.remaining() < 8) {
                    expectTruncated(o, session, ended, truncated);
                    return;
                }
                if (in.getLong() != OPTION_MAGIC) {
                    expectEnded(o, session, ended, truncated, true, "bad option magic");
                    return;
                }
                if (in.remaining() < 8) {
                    expectTruncated(o, session, ended, truncated);
                    return;
                }
                int option = in.getInt();
                long length = Integer.toUnsignedLong(in.getInt());
                if (length > pcache.export.nbd.internal.Handshake.MAX_OPTION_DATA_BYTES) {
                    expectEnded(o, session, ended, truncated, true, "oversized option");
                    return;
                }
                if (in.remaining() < length) {
                    expectTruncated(o, session, ended, truncated);
                    return;
                }
                byte[] data = new byte[(int) length];
                in.get(data);
                options++;
                String what = "option #" + options + " (" + optionName(option) + ", " + length + " bytes)";
                if (option == OPT_ABORT) {
                    expectReply(o, option, REP_ACK, what);
                    expectEnded(o, session, ended, truncated, false, "ABORT");
                    return;
                }
                if (option == OPT_EXPORT_NAME) {
                    Export export = data.length > MAX_STRING_BYTES ? null : directory.find(SessionDriver.utf8(data));
                    if (export == null) {
                        expectEnded(o, session, ended, truncated, true, "EXPORT_NAME of an unknown export");
                        return;
                    }
                    check(session != null && session.export() == export, what + ": expected a session on "
                            + export.name + ", got " + session + " / " + ended + " / truncated " + truncated);
                    check(session.structuredReplies() == structured, what + ": structured replies");
                    check(o.remaining() >= 10 && o.getLong() == export.device.sizeBytes(), what + ": size");
                    checkTransmissionFlags(o.getShort() & 0xffff, structured, what);
                    if (!noZeroes) {
                        for (int i = 0; i < EXPORT_NAME_PADDING_BYTES; i++) {
                            check(o.hasRemaining() && o.get() == 0, what + ": 124 zero bytes of padding");
                        }
                    }
                    check(!o.hasRemaining(), what + ": bytes after the EXPORT_NAME reply");
                    transmissionStart = in.position();
                    return;
                }
                int finalType = expectOptionReplies(o, option, data, structured, what);
                if (option == OPT_STRUCTURED_REPLY && finalType == REP_ACK) {
                    structured = true;
                }
                if (option == OPT_GO && finalType == REP_ACK) {
                    check(session != null, what + ": GO acknowledged but no session");
                    check(session.structuredReplies() == structured, what + ": structured replies");
                    check(session.export() == named, what + ": attached to " + session.export().name);
                    check(!o.hasRemaining(), what + ": bytes after the GO acknowledgement");
                    transmissionStart = in.position();
                    return;
                }
            }
        }

        /** Reads the replies to one option up to its final one; returns the final type. */
        private int expectOptionReplies(ByteBuffer o, int option, byte[] data, boolean structured, String what) {
            ByteBuffer d = ByteBuffer.wrap(data);
            named = null;
            int expectedError = 0; // 0: success expected; -1: any error allowed
            switch (option) {
                case OPT_LIST:
                    expectedError = data.length == 0 ? 0 : REP_ERR_INVALID;
                    break;
                case OPT_STRUCTURED_REPLY:
                    expectedError = data.length == 0 && !structured ? 0 : REP_ERR_INVALID;
                    break;
                case OPT_INFO:
                case OPT_GO: {
                    if (data.length < 6) {
                        expectedError = REP_ERR_INVALID;
                        break;
                    }
                    long nameLength = Integer.toUnsignedLong(d.getInt());
                    if (nameLength > data.length - 6 || nameLength > MAX_STRING_BYTES) {
                        expectedError = REP_ERR_INVALID;
                        break;
                    }
                    byte[] name = new byte[(int) nameLength];
                    d.get(name);
                    int requests = Short.toUnsignedInt(d.getShort());
                    if (d.remaining() != 2 * requests) {
                        expectedError = REP_ERR_INVALID;
                        break;
                    }
                    named = directory.find(SessionDriver.utf8(name));
                    expectedError = named == null ? REP_ERR_UNKNOWN : 0;
                    break;
                }
                case OPT_LIST_META_CONTEXT:
                case OPT_SET_META_CONTEXT:
                    expectedError = option == OPT_SET_META_CONTEXT && !structured ? REP_ERR_INVALID : -1;
                    break;
                case OPT_STARTTLS:
                    expectedError = REP_ERR_POLICY;
                    break;
                default:
                    expectedError = REP_ERR_UNSUP;
                    break;
            }
            boolean sawExport = false;
            int servers = 0;
            while (true) {
                check(o.remaining() >= 20, what + ": no final reply");
                check(o.getLong() == OPTION_REPLY_MAGIC, what + ": bad option reply magic");
                check(o.getInt() == option, what + ": reply does not echo the option");
                int type = o.getInt();
                long length = Integer.toUnsignedLong(o.getInt());
                check(length <= o.remaining(), what + ": reply length " + length + " beyond the output");
                byte[] payload = new byte[(int) length];
                o.get(payload);
                if (type < 0) { // error: bit 31
                    check(expectedError != 0, what + ": unexpected error 0x" + Integer.toHexString(type));
                    check(expectedError == -1 || type == expectedError, what + ": error 0x" + Integer.toHexString(type)
                            + ", expected 0x" + Integer.toHexString(expectedError));
                    check(length <= MAX_STRING_BYTES, what + ": error message longer than 4096 bytes");
                    return type;
                }
                if (type == REP_ACK) {
                    check(expectedError <= 0, what + ": ACK where error 0x" + Integer.toHexString(expectedError)
                            + " was expected");
                    check(length == 0, what + ": ACK with data");
                    if (option == OPT_INFO || option == OPT_GO) {
                        check(sawExport, what + ": ACK without NBD_INFO_EXPORT");
                    }
                    if (option == OPT_LIST) {
                        check(servers == directory.list().size(), what + ": LIST named " + servers + " exports");
                    }
                    return type;
                }
                ByteBuffer p = ByteBuffer.wrap(payload);
                switch (type) {
                    case REP_SERVER:
                        check(option == OPT_LIST, what + ": REP_SERVER for another option");
                        check(p.remaining() >= 4 && p.getInt() <= p.remaining(), what + ": REP_SERVER name length");
                        servers++;
                        break;
                    case REP_INFO:
                        check(option == OPT_INFO || option == OPT_GO, what + ": REP_INFO for another option");
                        check(p.remaining() >= 2, what + ": empty REP_INFO");
                        int info = Short.toUnsignedInt(p.getShort());
                        if (info == INFO_EXPORT) {
                            check(named != null, what + ": INFO_EXPORT for no export");
                            check(p.remaining() == 10 && p.getLong() == named.device.sizeBytes(), what + ": INFO_EXPORT");
                            checkTransmissionFlags(p.getShort() & 0xffff, structured, what);
                            sawExport = true;
                        } else if (info == INFO_BLOCK_SIZE) {
                            check(p.remaining() == 12, what + ": INFO_BLOCK_SIZE length");
                            int min = p.getInt();
                            int preferred = p.getInt();
                            int max = p.getInt();
                            check(Integer.bitCount(min) == 1 && min <= 65536 && Integer.bitCount(preferred) == 1
                                    && preferred >= Math.max(min, 512) && max >= preferred, what + ": block sizes");
                        }
                        break;
                    case REP_META_CONTEXT:
                        check(option == OPT_LIST_META_CONTEXT || option == OPT_SET_META_CONTEXT,
                                what + ": REP_META_CONTEXT for another option");
                        check(p.remaining() >= 4, what + ": REP_META_CONTEXT too short");
                        break;
                    default:
                        check(false, what + ": unknown reply type " + type);
                }
            }
        }

        private static void checkTransmissionFlags(int flags, boolean structured, String what) {
            check((flags & TX_HAS_FLAGS) != 0, what + ": HAS_FLAGS missing");
            check(((flags & TX_SEND_DF) != 0) == structured, what + ": SEND_DF must follow structured replies");
            check((flags & TX_SEND_FAST_ZERO) == 0 || (flags & TX_SEND_WRITE_ZEROES) != 0,
                    what + ": FAST_ZERO without WRITE_ZEROES");
        }

        private static void expectReply(ByteBuffer o, int option, int type, String what) {
            check(o.remaining() >= 20 && o.getLong() == OPTION_REPLY_MAGIC && o.getInt() == option
                    && o.getInt() == type && o.getInt() == 0, what + ": expected reply type " + type);
        }

        private static void expectTruncated(ByteBuffer o, Session session, Object ended, boolean truncated) {
            check(truncated && session == null && ended == null, "input ends mid-way: expected EOF, got session "
                    + session + ", ended " + ended);
            check(!o.hasRemaining(), "server answered something the client never finished sending");
        }

        private static void expectEnded(ByteBuffer o, Session session,
                                        pcache.export.nbd.internal.Handshake.Ended ended, boolean truncated,
                                        boolean clientFault, String why) {
            check(ended != null && session == null && !truncated, why + ": expected the server to end the "
                    + "handshake, got session " + session + ", truncated " + truncated);
            check(ended.clientFault == clientFault, why + ": client fault " + ended.clientFault);
            check(!o.hasRemaining(), why + ": " + o.remaining() + " bytes written after the end");
        }
    }

    /** Where the next request of a transmission stream is, and how it ends. */
    enum Kind { REQUEST, END, BAD_MAGIC, TRUNCATED, ABSURD_PAYLOAD, TRUNCATED_PAYLOAD }

    record Next(Kind kind, NbdRequest request) {
    }

    /** Reads requests one by one, as a client framed them. */
    static final class Requests {
        private final ByteBuffer in;

        Requests(byte[] stream, int start) {
            this.in = ByteBuffer.wrap(stream);
            in.position(start);
        }

        Next next() {
            if (in.remaining() < 4) {
                return new Next(Kind.END, null); // nothing, or less than a magic: the server sees EOF
            }
            if (in.getInt() != REQUEST_MAGIC) {
                return new Next(Kind.BAD_MAGIC, null);
            }
            if (in.remaining() < 24) {
                return new Next(Kind.TRUNCATED, null);
            }
            NbdRequest r = new NbdRequest(Short.toUnsignedInt(in.getShort()), Short.toUnsignedInt(in.getShort()),
                    in.getLong(), in.getLong(), Integer.toUnsignedLong(in.getInt()));
            long payload = r.payloadBytes();
            if (payload > RequestReader.MAX_DISCARDED_PAYLOAD_BYTES) {
                return new Next(Kind.ABSURD_PAYLOAD, r);
            }
            if (payload > in.remaining()) {
                return new Next(Kind.TRUNCATED_PAYLOAD, r);
            }
            in.position(in.position() + (int) payload);
            return new Next(Kind.REQUEST, r);
        }
    }

    /** Builds client byte streams. */
    static final class Writer {
        private final DataOutputStream out;

        Writer(OutputStream out) {
            this.out = new DataOutputStream(out);
        }

        static Writer toBytes(ByteArrayOutputStream bytes) {
            return new Writer(bytes);
        }

        Writer flags(int flags) {
            return io(() -> out.writeInt(flags));
        }

        Writer option(int option, byte[] data) {
            return io(() -> {
                out.writeLong(OPTION_MAGIC);
                out.writeInt(option);
                out.writeInt(data.length);
                out.write(data);
            });
        }

        Writer request(int flags, int type, long cookie, long offset, long length) {
            return io(() -> {
                out.writeInt(REQUEST_MAGIC);
                out.writeShort(flags);
                out.writeShort(type);
                out.writeLong(cookie);
                out.writeLong(offset);
                out.writeInt((int) length);
            });
        }

        Writer raw(byte[] bytes) {
            return io(() -> out.write(bytes));
        }

        Writer name(String name) {
            return raw(name.getBytes(StandardCharsets.UTF_8));
        }

        private interface Io {
            void run() throws IOException;
        }

        private Writer io(Io step) {
            try {
                step.run();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return this;
        }
    }
}
