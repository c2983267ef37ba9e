package pcache.export.nbd.internal;

import static pcache.api.nbd.NbdWire.REQUEST_MAGIC;

import java.io.EOFException;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import pcache.io.log.Log;

/**
 * Decodes the transmission phase of one connection from its input: 28-byte request headers,
 * validation, and what to do with a WRITE payload. It does no device I/O and starts no thread,
 * so the whole decoding path can be driven from a byte array (the fuzz tests do).
 *
 * <p>The caller ({@link NbdConnection}) takes the in-flight budget between {@link #next} and
 * {@link #readPayload}: a valid WRITE's payload is read only once there is room for it, which
 * is what makes the connection's memory bounded.
 */
final class RequestReader {
    private static final System.Logger LOG = Log.of(RequestReader.class);

    /**
     * A WRITE announcing more payload than this is not worth reading to stay in sync: we
     * disconnect. Between the 32 MiB maximum payload and this, the payload is read, dropped and
     * the request answered EINVAL (fio's nbd engine may send up to 64 MiB).
     */
    static final long MAX_DISCARDED_PAYLOAD_BYTES = 64L << 20;

    /**
     * One decoded request.
     *
     * @param request the header as received
     * @param rejection why it is refused (its payload has already been skipped), or null when it
     *        may be executed (a valid WRITE's payload is still on the wire: {@link #readPayload})
     */
    record Incoming(NbdRequest request, Rejection rejection) {
        /** A valid NBD_CMD_DISC: answer what is in flight, then close. */
        boolean isDisconnect() {
            return rejection == null && request.command() == NbdCommand.DISC;
        }
    }

    private final ChannelInput in;
    private final TransmissionLimits limits;
    private final Export export;
    private final String peer;

    RequestReader(ChannelInput in, TransmissionLimits limits, Export export, String peer) {
        this.in = in;
        this.limits = limits;
        this.export = export;
        this.peer = peer;
    }

    /**
     * Reads and checks the next request.
     *
     * @return the request, or null when the connection must end: the client closed it between
     *         requests, sent a bad magic (a MUST violation: hard disconnect) or announced a
     *         payload too large to skip
     * @throws IOException when the connection fails or ends inside a request
     */
    Incoming next() throws IOException {
        int magic;
        try {
            magic = in.readInt();
        } catch (EOFException e) {
            LOG.log(Level.DEBUG, () -> "NBD client " + peer + " closed the connection without NBD_CMD_DISC");
            return null;
        }
        if (magic != REQUEST_MAGIC) {
            LOG.log(Level.WARNING, () -> "NBD client " + peer + ": bad request magic 0x"
                    + Integer.toHexString(magic) + ", disconnecting");
            return null;
        }
        NbdRequest request = new NbdRequest(in.readU16(), in.readU16(), in.readLong(), in.readLong(),
                Integer.toUnsignedLong(in.readInt()));
        export.countRequest();
        Rejection rejection = RequestValidator.validate(request, limits);
        Incoming incoming = new Incoming(request, rejection);
        if (incoming.isDisconnect()) {
            return incoming;
        }
        long payload = request.payloadBytes();
        if (payload > MAX_DISCARDED_PAYLOAD_BYTES) {
            LOG.log(Level.WARNING, () -> "NBD client " + peer + ": " + request.describe()
                    + " announces an absurd payload, disconnecting");
            return null;
        }
        if (rejection != null && payload > 0) {
            in.skip(payload); // keep the stream in sync; bounded by MAX_DISCARDED_PAYLOAD_BYTES
        }
        return incoming;
    }

    /** Drops the payload of a request accepted by {@link #next} but refused afterwards. */
    void skipPayload(NbdRequest request) throws IOException {
        if (request.payloadBytes() > 0) {
            in.skip(request.payloadBytes());
        }
    }

    /**
     * Reads the payload of a valid request (WRITE) into a buffer from {@code pool}, flipped for
     * reading; null when the request has none. The length was validated by {@link #next}
     * (at most the maximum payload), so the buffer is bounded.
     */
    ByteBuffer readPayload(NbdRequest request, BufferPool pool) throws IOException {
        long payload = request.payloadBytes();
        if (payload == 0) {
            return null;
        }
        ByteBuffer data = pool.acquire((int) payload);
        try {
            in.readFully(data);
        } catch (IOException | RuntimeException e) {
            pool.release(data);
            throw e;
        }
        return data.flip();
    }
}
