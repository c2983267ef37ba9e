package pcache.backing.nbd.internal;

import pcache.api.nbd.NbdWire;

/**
 * What the handshake told us about the export (design doc §2.2, §3.1, §5).
 *
 * @param sizeBytes export size
 * @param transmissionFlags the server's transmission flags (§3.1)
 * @param structuredReplies whether NBD_OPT_STRUCTURED_REPLY was acknowledged
 * @param minimumBlock minimum block size (1 when not advertised)
 * @param preferredBlock preferred block size (4096 when not advertised)
 * @param maximumPayload maximum READ/WRITE payload ({@link NbdWire#MAX_PAYLOAD_BYTES} when
 *        not advertised; 0xffffffff means no limit)
 * @param blockSizeAdvertised whether the server sent NBD_INFO_BLOCK_SIZE
 * @param negotiatedWithGo true for NBD_OPT_GO, false for the NBD_OPT_EXPORT_NAME fallback
 * @param baseAllocationContext the id the server gave {@code base:allocation} in
 *        NBD_OPT_SET_META_CONTEXT, or {@link #NO_CONTEXT} when it was not selected
 */
record ExportInfo(long sizeBytes, int transmissionFlags, boolean structuredReplies,
        int minimumBlock, int preferredBlock, long maximumPayload, boolean blockSizeAdvertised,
        boolean negotiatedWithGo, long baseAllocationContext) {

    /** {@link #baseAllocationContext}: the server gave none (no structured replies, or it does not offer it). */
    static final long NO_CONTEXT = -1;

    /** What the handshake found, before metadata contexts. */
    ExportInfo(long sizeBytes, int transmissionFlags, boolean structuredReplies, int minimumBlock,
            int preferredBlock, long maximumPayload, boolean blockSizeAdvertised, boolean negotiatedWithGo) {
        this(sizeBytes, transmissionFlags, structuredReplies, minimumBlock, preferredBlock, maximumPayload,
                blockSizeAdvertised, negotiatedWithGo, NO_CONTEXT);
    }

    /** The same with {@code base:allocation} selected under {@code id} (or {@link #NO_CONTEXT}). */
    ExportInfo withBaseAllocationContext(long id) {
        return new ExportInfo(sizeBytes, transmissionFlags, structuredReplies, minimumBlock, preferredBlock,
                maximumPayload, blockSizeAdvertised, negotiatedWithGo, id);
    }

    /** Whether BLOCK_STATUS for {@code base:allocation} may be sent. */
    boolean canBlockStatus() {
        return baseAllocationContext != NO_CONTEXT;
    }

    private boolean has(int flag) {
        return (transmissionFlags & NbdWire.TX_HAS_FLAGS) != 0 && (transmissionFlags & flag) != 0;
    }

    boolean readOnly() {
        return has(NbdWire.TX_READ_ONLY);
    }

    boolean canFlush() {
        return has(NbdWire.TX_SEND_FLUSH);
    }

    boolean canFua() {
        return has(NbdWire.TX_SEND_FUA);
    }

    boolean canTrim() {
        return has(NbdWire.TX_SEND_TRIM);
    }

    boolean canWriteZeroes() {
        return has(NbdWire.TX_SEND_WRITE_ZEROES);
    }

    /** Short summary for logs. */
    String summary() {
        return "size " + sizeBytes + " bytes, " + (readOnly() ? "read-only" : "read-write")
                + ", flags 0x" + Integer.toHexString(transmissionFlags)
                + (canFlush() ? " flush" : "") + (canFua() ? " fua" : "")
                + (canTrim() ? " trim" : "") + (canWriteZeroes() ? " write-zeroes" : "")
                + ", " + (structuredReplies ? "structured" : "simple") + " replies"
                + ", block size " + (blockSizeAdvertised ? minimumBlock + "/" + preferredBlock + "/"
                        + Long.toUnsignedString(maximumPayload) : "not advertised")
                + (canBlockStatus() ? ", base:allocation" : "")
                + (negotiatedWithGo ? "" : ", via NBD_OPT_EXPORT_NAME");
    }
}
