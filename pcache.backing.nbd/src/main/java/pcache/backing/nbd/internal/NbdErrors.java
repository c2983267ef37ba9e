package pcache.backing.nbd.internal;

import java.io.IOException;

import pcache.api.BackingDeviceException;
import pcache.api.ReadOnlyDeviceException;

/**
 * Turns the error numbers of NBD replies (design doc §3.7) into pcache exceptions whose message
 * names the server, the request and what the server said.
 */
final class NbdErrors {

    static final int EPERM = 1;
    static final int EIO = 5;
    static final int ENOMEM = 12;
    static final int EINVAL = 22;
    static final int ENOSPC = 28;
    static final int EOVERFLOW = 75;
    static final int ENOTSUP = 95;
    static final int ESHUTDOWN = 108;

    private NbdErrors() {
    }

    /** Symbolic name and meaning of an NBD error number. */
    static String describe(int errno) {
        return switch (errno) {
            case EPERM -> "EPERM (operation not permitted)";
            case EIO -> "EIO (input/output error)";
            case ENOMEM -> "ENOMEM (out of memory)";
            case EINVAL -> "EINVAL (invalid argument)";
            case ENOSPC -> "ENOSPC (no space left on device)";
            case EOVERFLOW -> "EOVERFLOW (value too large)";
            case ENOTSUP -> "ENOTSUP (operation not supported)";
            case ESHUTDOWN -> "ESHUTDOWN (server shutting down)";
            default -> "error " + errno + " (unknown to NBD; treated as EINVAL)";
        };
    }

    /**
     * The exception a caller sees for a request the server failed.
     *
     * @param server the server's URI, for the message
     * @param request what was asked, e.g. {@code WRITE [4096, +512)}
     * @param serverMessage the text the server attached, or empty
     */
    static IOException toException(int errno, String server, String request, String serverMessage) {
        String said = serverMessage == null || serverMessage.isEmpty() ? ""
                : "; the server said: " + serverMessage;
        String message = server + ": " + request + " failed with " + describe(errno) + said;
        return switch (errno) {
            case EPERM -> new ReadOnlyDeviceException(message
                    + " (the export does not accept writes; check the server's read-only setting)");
            case ENOSPC -> new BackingDeviceException(message
                    + " (the server has no space left for this range; free space on the server)");
            case EINVAL -> new BackingDeviceException(message
                    + " (the server rejected the request's range or alignment)");
            default -> new BackingDeviceException(message);
        };
    }
}
