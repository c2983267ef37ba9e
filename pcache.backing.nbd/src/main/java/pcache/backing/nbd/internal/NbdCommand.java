package pcache.backing.nbd.internal;

/** The NBD commands this client sends (design doc §3.2, §3.5). */
enum NbdCommand {
    READ(0),
    WRITE(1),
    DISC(2),
    FLUSH(3),
    TRIM(4),
    WRITE_ZEROES(6),
    /** Asks the metadata context {@code base:allocation} (design doc §3.6). */
    BLOCK_STATUS(7);

    /** The command's type number on the wire. */
    final int wireType;

    NbdCommand(int wireType) {
        this.wireType = wireType;
    }

    /** True for commands that change the export's content. */
    boolean modifiesContent() {
        return this == WRITE || this == TRIM || this == WRITE_ZEROES;
    }
}
