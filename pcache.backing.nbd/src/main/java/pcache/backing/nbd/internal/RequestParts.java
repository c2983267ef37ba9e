package pcache.backing.nbd.internal;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * Cuts a caller's request into NBD requests the server accepts: READ/WRITE at the server's
 * maximum payload, TRIM and WRITE_ZEROES at 1 GiB; zeroes are written as data in 1 MiB pieces
 * when the server lacks WRITE_ZEROES. Parts are produced lazily, so a large request never holds
 * more private copies than the pipeline's window.
 */
final class RequestParts {

    /** Largest TRIM or WRITE_ZEROES request we send (they carry no payload). */
    private static final int MAX_PAYLOADLESS_BYTES = 1 << 30;
    /** Zeroes for emulating WRITE_ZEROES; shared and never modified. */
    private static final byte[] ZEROES = new byte[1 << 20];

    /** Produces the parts of one caller request, lazily; null when there are no more. */
    interface Source {
        NbdRequest next();
    }

    private final WireGeometry geometry;

    RequestParts(WireGeometry geometry) {
        this.geometry = geometry;
    }

    /** READ parts for {@code [from, to)}. */
    Source reads(long from, long to) {
        long[] next = {from};
        return () -> {
            if (next[0] >= to) {
                return null;
            }
            int length = (int) Math.min(geometry.maxIoBytes(), to - next[0]);
            NbdRequest part = NbdRequest.read(next[0], length);
            next[0] += length;
            return part;
        };
    }

    /** WRITE parts for {@code [from, to)}; byte {@code from} is {@code data[dataIndex]}. */
    Source writes(long from, long to, ByteBuffer data, int dataIndex, int flags) {
        long[] next = {from};
        return () -> {
            if (next[0] >= to) {
                return null;
            }
            int length = (int) Math.min(geometry.maxIoBytes(), to - next[0]);
            byte[] copy = new byte[length]; // private copy: see NbdRequest
            data.get(dataIndex + (int) (next[0] - from), copy, 0, length);
            NbdRequest part = NbdRequest.write(next[0], flags, copy, 0, length);
            next[0] += length;
            return part;
        };
    }

    /** WRITE_ZEROES parts for {@code [from, to)}, or WRITE parts of zeroes without it. */
    Source zeroes(long from, long to, int flags) {
        if (geometry.export().canWriteZeroes()) {
            return payloadless(NbdCommand.WRITE_ZEROES, from, to, flags);
        }
        int chunk = Math.min(ZEROES.length, geometry.maxIoBytes());
        long[] next = {from};
        return () -> {
            if (next[0] >= to) {
                return null;
            }
            int length = (int) Math.min(chunk, to - next[0]);
            NbdRequest part = NbdRequest.write(next[0], flags, ZEROES, 0, length);
            next[0] += length;
            return part;
        };
    }

    /** Parts of a command without payload (TRIM, WRITE_ZEROES) for {@code [from, to)}. */
    Source payloadless(NbdCommand command, long from, long to, int flags) {
        int chunk = (int) geometry.alignDown(MAX_PAYLOADLESS_BYTES);
        long[] next = {from};
        return () -> {
            if (next[0] >= to) {
                return null;
            }
            int length = (int) Math.min(chunk, to - next[0]);
            NbdRequest part = NbdRequest.payloadless(command, flags, next[0], length);
            next[0] += length;
            return part;
        };
    }

    /** The given requests, in order. */
    static Source of(List<NbdRequest> requests) {
        int[] next = {0};
        return () -> next[0] < requests.size() ? requests.get(next[0]++) : null;
    }

    /** The parts of {@code first}, then those of {@code second}. */
    static Source concat(Source first, Source second) {
        boolean[] firstDone = {false};
        return () -> {
            if (!firstDone[0]) {
                NbdRequest part = first.next();
                if (part != null) {
                    return part;
                }
                firstDone[0] = true;
            }
            return second.next();
        };
    }
}
