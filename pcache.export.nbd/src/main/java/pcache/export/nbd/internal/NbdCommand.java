package pcache.export.nbd.internal;

import static pcache.api.nbd.NbdWire.CMD_FLAG_DF;
import static pcache.api.nbd.NbdWire.CMD_FLAG_FAST_ZERO;
import static pcache.api.nbd.NbdWire.CMD_FLAG_FUA;
import static pcache.api.nbd.NbdWire.CMD_FLAG_NO_HOLE;
import static pcache.api.nbd.NbdWire.CMD_FLAG_REQ_ONE;


/** The NBD commands this server understands, with the command flags each one accepts. */
enum NbdCommand {
    READ(0, CMD_FLAG_FUA | CMD_FLAG_DF),
    WRITE(1, CMD_FLAG_FUA),
    DISC(2, CMD_FLAG_FUA),
    FLUSH(3, CMD_FLAG_FUA),
    TRIM(4, CMD_FLAG_FUA),
    CACHE(5, CMD_FLAG_FUA),
    WRITE_ZEROES(6, CMD_FLAG_FUA | CMD_FLAG_NO_HOLE | CMD_FLAG_FAST_ZERO),
    BLOCK_STATUS(7, CMD_FLAG_FUA | CMD_FLAG_REQ_ONE);

    private static final NbdCommand[] BY_TYPE = values();

    /** The type field of the request header. */
    final int type;
    /**
     * Flags a client may set. FUA is accepted on every command because we advertise SEND_FUA
     * (the spec says a server that does MUST accept it anywhere; it is ignored where nothing is
     * written).
     */
    final int allowedFlags;

    NbdCommand(int type, int allowedFlags) {
        this.type = type;
        this.allowedFlags = allowedFlags;
    }

    /** The command with this wire type, or null for an unknown one. */
    static NbdCommand ofType(int type) {
        return type >= 0 && type < BY_TYPE.length ? BY_TYPE[type] : null;
    }

    /** True when the offset/length describe a byte range of the export. */
    boolean addressesRange() {
        return this != DISC && this != FLUSH;
    }

    /** True for commands that change the device's content (ENOSPC past the end, not EINVAL). */
    boolean writesData() {
        return this == WRITE || this == WRITE_ZEROES;
    }
}
