package pcache.backing.nbd.internal;

import pcache.api.BlockDevice;
import pcache.api.nbd.NbdWire;

/**
 * How requests to one export look on the wire, fixed by the handshake of the first connection:
 * the export, the alignment of every request, the largest READ/WRITE and the size callers see.
 * A later connection must fit it ({@link #incompatibility}).
 *
 * @param export what the handshake of the first connection reported
 * @param alignment alignment of every request on the wire: max(512, the server's minimum block)
 * @param maxIoBytes largest READ/WRITE on the wire, a multiple of {@code alignment}
 * @param sizeBytes the device size: the export size rounded down to {@code alignment}
 */
record WireGeometry(ExportInfo export, int alignment, int maxIoBytes, long sizeBytes) {

    /**
     * The geometry of a freshly negotiated export.
     *
     * @throws NbdConnectException if the server's maximum payload is below its block size
     */
    static WireGeometry of(String server, ExportInfo export) throws NbdConnectException {
        int alignment = Math.max(BlockDevice.SECTOR_SIZE, export.minimumBlock());
        long maxPayload = Math.min(export.maximumPayload(), NbdWire.MAX_PAYLOAD_BYTES);
        int maxIoBytes = (int) alignDown(maxPayload, alignment);
        if (maxIoBytes < alignment) {
            throw new NbdConnectException(NbdConnectException.Reason.PROTOCOL, server
                    + ": the server's maximum payload " + maxPayload
                    + " is smaller than the block size " + alignment);
        }
        long size = alignDown(export.sizeBytes(), alignment);
        if (size <= 0) {
            throw new NbdConnectException(NbdConnectException.Reason.REFUSED, server + ": the export is "
                    + export.sizeBytes() + " bytes, smaller than one block (" + alignment + " bytes), so it"
                    + " cannot back a cache; check the size of the export (its file or disk) on the server");
        }
        return new WireGeometry(export, alignment, maxIoBytes, size);
    }

    /** Whether callers' 512-byte granularity needs no read-modify-write on this server. */
    boolean sectorAligned() {
        return alignment == BlockDevice.SECTOR_SIZE;
    }

    long alignDown(long value) {
        return alignDown(value, alignment);
    }

    long alignUp(long value) {
        return (value + alignment - 1) & -alignment;
    }

    static long alignDown(long value, int alignment) {
        return value & -alignment;
    }

    /** Why a new connection's export cannot replace the first one, or null if it can. */
    String incompatibility(ExportInfo now) {
        ExportInfo was = export;
        if (now.sizeBytes() != was.sizeBytes()) {
            return "the export size changed from " + was.sizeBytes() + " to " + now.sizeBytes()
                    + " bytes, so it is probably not the same disk";
        }
        if (now.readOnly() && !was.readOnly()) {
            return "the export became read-only";
        }
        if ((was.canFlush() && !now.canFlush()) || (was.canFua() && !now.canFua())
                || (was.canTrim() && !now.canTrim())
                || (was.canWriteZeroes() && !now.canWriteZeroes())) {
            return "the server no longer offers all of the commands it offered before (was: "
                    + was.summary() + "; now: " + now.summary() + ")";
        }
        if (now.minimumBlock() > alignment || now.maximumPayload() < maxIoBytes) {
            return "the server's block size constraints became stricter (now minimum "
                    + now.minimumBlock() + ", maximum payload " + now.maximumPayload() + ")";
        }
        return null;
    }
}
