package pcache.export.nbd.internal;

import pcache.api.DeviceClosedException;
import pcache.api.MisalignedIoException;
import pcache.api.OutOfRangeException;
import pcache.api.ReadOnlyDeviceException;

/** Maps what a device threw to the NBD error value a client understands (design doc §3.7). */
final class ErrorMapping {
    private ErrorMapping() {
    }

    /**
     * The error for {@code failure} raised while executing {@code command}.
     * Anything not recognised is EIO: the client must assume nothing happened.
     */
    static NbdError errorFor(NbdCommand command, Throwable failure) {
        if (failure instanceof OutOfRangeException) {
            return command != null && command.writesData() ? NbdError.ENOSPC : NbdError.EINVAL;
        }
        if (failure instanceof MisalignedIoException) {
            return NbdError.EINVAL;
        }
        if (failure instanceof ReadOnlyDeviceException) {
            return NbdError.EPERM;
        }
        if (failure instanceof DeviceClosedException) {
            return NbdError.ESHUTDOWN;
        }
        return NbdError.EIO;
    }
}
