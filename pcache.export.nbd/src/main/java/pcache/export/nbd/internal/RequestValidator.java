package pcache.export.nbd.internal;

import static pcache.api.nbd.NbdWire.CMD_FLAG_DF;
import static pcache.api.nbd.NbdWire.CMD_FLAG_FAST_ZERO;


/**
 * Checks a request before anything touches the device, so that a bad request changes nothing
 * and gets the error value the protocol asks for (design doc §3.2, §3.5, §3.7).
 */
final class RequestValidator {
    private RequestValidator() {
    }

    /**
     * Returns why {@code request} must be refused, or null when it may be executed.
     * Order matters and mirrors what clients expect: unknown command and bad flags first, then
     * payload size, then range (ENOSPC for writes, EINVAL otherwise), then alignment, and only
     * for an otherwise valid request the FAST_ZERO refusal.
     */
    static Rejection validate(NbdRequest request, TransmissionLimits limits) {
        NbdCommand command = request.command();
        if (command == null) {
            return new Rejection(NbdError.EINVAL, "unknown command type " + request.type());
        }
        int badFlags = request.flags() & ~command.allowedFlags;
        if (badFlags != 0) {
            return new Rejection(NbdError.EINVAL, "flag(s) 0x" + Integer.toHexString(badFlags)
                    + " not valid for " + command);
        }
        if (request.has(CMD_FLAG_DF) && !limits.structuredReplies()) {
            return new Rejection(NbdError.EINVAL,
                    "DF flag sent although structured replies were not negotiated");
        }
        if (!command.addressesRange()) {
            if (request.offset() != 0 || request.length() != 0) {
                return new Rejection(NbdError.EINVAL, command + " must have offset and length 0");
            }
            return null;
        }
        if ((command == NbdCommand.READ || command == NbdCommand.WRITE)
                && request.length() > limits.maxPayloadBytes()) {
            return new Rejection(NbdError.EINVAL, "length " + request.length()
                    + " exceeds the maximum payload of " + limits.maxPayloadBytes() + " bytes");
        }
        if (command == NbdCommand.BLOCK_STATUS && !limits.metaContextSelected()) {
            return new Rejection(NbdError.EINVAL,
                    "BLOCK_STATUS without a metadata context selected (use SET_META_CONTEXT base:allocation)");
        }
        long offset = request.offset();
        long length = request.length();
        long size = limits.sizeBytes();
        if (offset < 0 || offset > size || length > size - offset) {
            return new Rejection(command.writesData() ? NbdError.ENOSPC : NbdError.EINVAL,
                    "range [" + Long.toUnsignedString(offset) + ", +" + length
                            + ") lies outside the export of " + size + " bytes");
        }
        if (((offset | length) & (limits.blockSize() - 1)) != 0) {
            return new Rejection(NbdError.EINVAL, "range [" + offset + ", +" + length
                    + ") is not aligned to the " + limits.blockSize() + "-byte block size");
        }
        if (command == NbdCommand.BLOCK_STATUS && length == 0) {
            return new Rejection(NbdError.EINVAL, "BLOCK_STATUS of zero length has no extent to report");
        }
        if (command == NbdCommand.WRITE_ZEROES && request.has(CMD_FLAG_FAST_ZERO)) {
            // Honest answer: a BlockDevice gives no promise that writeZeroes is faster than a
            // write, so we refuse at once and leave the data untouched (the spec's ENOTSUP).
            return new Rejection(NbdError.ENOTSUP, "fast zeroing is not available; write zeroes instead");
        }
        return null;
    }
}
