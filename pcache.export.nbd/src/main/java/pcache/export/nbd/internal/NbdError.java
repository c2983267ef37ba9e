package pcache.export.nbd.internal;

/** Error values of NBD replies (Linux errno numbers, fixed by the protocol). */
enum NbdError {
    EPERM(1),
    EIO(5),
    ENOMEM(12),
    EINVAL(22),
    ENOSPC(28),
    EOVERFLOW(75),
    ENOTSUP(95),
    ESHUTDOWN(108);

    /** The u32 value sent in a reply. */
    final int wireValue;

    NbdError(int wireValue) {
        this.wireValue = wireValue;
    }
}
