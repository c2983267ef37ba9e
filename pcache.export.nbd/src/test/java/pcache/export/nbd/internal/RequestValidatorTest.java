package pcache.export.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static pcache.api.nbd.NbdWire.*;
import static pcache.export.nbd.internal.NbdProtocol.*;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

import org.junit.jupiter.api.Test;

import pcache.api.BlockDevice;
import pcache.api.nbd.NbdWire;

class RequestValidatorTest {
    private static final long SIZE = 1 << 20;
    private static final TransmissionLimits SIMPLE = new TransmissionLimits(SIZE, 512, MAX_PAYLOAD_BYTES, false, false);
    private static final TransmissionLimits FULL = new TransmissionLimits(SIZE, 512, MAX_PAYLOAD_BYTES, true, true);

    private static NbdError errorOf(int flags, NbdCommand c, long offset, long length, TransmissionLimits limits) {
        Rejection r = RequestValidator.validate(new NbdRequest(flags, c.type, 1, offset, length), limits);
        return r == null ? null : r.error();
    }

    @Test
    void examplesFromTheProtocol() {
        assertNull(errorOf(0, NbdCommand.READ, 0, 4096, SIMPLE));
        assertNull(errorOf(CMD_FLAG_FUA, NbdCommand.FLUSH, 0, 0, SIMPLE));
        assertNull(errorOf(CMD_FLAG_FUA, NbdCommand.DISC, 0, 0, SIMPLE));
        assertEquals(NbdError.EINVAL, errorOf(0, NbdCommand.FLUSH, 512, 0, SIMPLE));
        assertEquals(NbdError.EINVAL, errorOf(0, NbdCommand.DISC, 0, 512, SIMPLE));
        assertEquals(NbdError.EINVAL, errorOf(CMD_FLAG_DF, NbdCommand.READ, 0, 512, SIMPLE));
        assertNull(errorOf(CMD_FLAG_DF, NbdCommand.READ, 0, 512, FULL));
        assertEquals(NbdError.ENOSPC, errorOf(0, NbdCommand.WRITE, SIZE, 512, SIMPLE));
        assertEquals(NbdError.ENOSPC, errorOf(0, NbdCommand.WRITE_ZEROES, SIZE - 512, 1024, SIMPLE));
        assertEquals(NbdError.EINVAL, errorOf(0, NbdCommand.TRIM, SIZE - 512, 1024, SIMPLE));
        assertEquals(NbdError.EINVAL, errorOf(0, NbdCommand.READ, 1, 512, SIMPLE));
        assertEquals(NbdError.EINVAL, errorOf(0, NbdCommand.WRITE, 0, MAX_PAYLOAD_BYTES + 512L, FULL));
        assertNull(errorOf(0, NbdCommand.WRITE_ZEROES, 0, SIZE, SIMPLE), "payload-less commands may exceed the max payload");
        assertEquals(NbdError.EINVAL, errorOf(0, NbdCommand.BLOCK_STATUS, 0, 512, SIMPLE));
        assertNull(errorOf(CMD_FLAG_REQ_ONE, NbdCommand.BLOCK_STATUS, 0, 512, FULL));
        assertEquals(NbdError.EINVAL, errorOf(0, NbdCommand.BLOCK_STATUS, 0, 0, FULL));
        assertEquals(NbdError.ENOTSUP, errorOf(CMD_FLAG_FAST_ZERO, NbdCommand.WRITE_ZEROES, 0, 512, SIMPLE));
        assertEquals(NbdError.ENOSPC, errorOf(CMD_FLAG_FAST_ZERO, NbdCommand.WRITE_ZEROES, SIZE, 512, SIMPLE),
                "range errors win over the fast-zero refusal");
        assertEquals(NbdError.EINVAL, errorOf(CMD_FLAG_NO_HOLE, NbdCommand.WRITE, 0, 512, SIMPLE));
        assertNotNull(RequestValidator.validate(new NbdRequest(0, 99, 1, 0, 0), SIMPLE));
        assertNull(errorOf(0, NbdCommand.READ, SIZE, 0, SIMPLE), "zero length at the end is not out of range");
    }

    @Provide
    Arbitrary<Long> offsets() {
        return Arbitraries.oneOf(
                Arbitraries.longs().between(0, SIZE + 4096),
                Arbitraries.longs().between(0, SIZE / 512 + 2).map(n -> n * 512),
                Arbitraries.of(-1L, -512L, Long.MIN_VALUE, Long.MAX_VALUE));
    }

    @Provide
    Arbitrary<Long> lengths() {
        return Arbitraries.oneOf(
                Arbitraries.longs().between(0, 0xFFFF_FFFFL),
                Arbitraries.longs().between(0, SIZE / 512 + 2).map(n -> n * 512),
                Arbitraries.of(0L, 512L, (long) MAX_PAYLOAD_BYTES, MAX_PAYLOAD_BYTES + 512L));
    }

    /** Whatever the validator lets through is something a BlockDevice accepts. */
    @Property(tries = 3000)
    void acceptedRequestsAreValidForTheDevice(@ForAll @IntRange(min = 0, max = 9) int type,
                                              @ForAll @IntRange(min = 0, max = 0x3f) int flags,
                                              @ForAll("offsets") long offset, @ForAll("lengths") long length,
                                              @ForAll boolean structured) {
        TransmissionLimits limits = new TransmissionLimits(SIZE, 512, MAX_PAYLOAD_BYTES, structured, structured);
        NbdRequest request = new NbdRequest(flags, type, 7, offset, length);
        Rejection rejection = RequestValidator.validate(request, limits);
        NbdCommand command = NbdCommand.ofType(type);
        if (rejection == null) {
            assertNotNull(command);
            assertEquals(0, flags & ~command.allowedFlags);
            if (command.addressesRange()) {
                assertDoesNotThrow(() -> BlockDevice.checkRange("d", SIZE, 512, offset, length));
            } else {
                assertEquals(0, offset | length);
            }
            if (command == NbdCommand.READ || command == NbdCommand.WRITE) {
                assertTrue(length <= MAX_PAYLOAD_BYTES);
            }
        } else {
            assertTrue(rejection.reason() != null && !rejection.reason().isEmpty());
            if (rejection.error() == NbdError.ENOSPC) {
                assertTrue(command.writesData());
            }
            if (rejection.error() == NbdError.ENOTSUP) {
                assertEquals(NbdCommand.WRITE_ZEROES, command);
                assertTrue(request.has(CMD_FLAG_FAST_ZERO));
            }
        }
    }
}
