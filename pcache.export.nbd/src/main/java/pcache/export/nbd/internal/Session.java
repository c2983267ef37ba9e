package pcache.export.nbd.internal;

import pcache.api.nbd.NbdWire;

/**
 * The result of a successful handshake: what the transmission phase serves and how.
 *
 * @param export the export the client attached to
 * @param structuredReplies whether structured replies were negotiated
 * @param metaContexts the metadata contexts selected for this export
 */
record Session(Export export, boolean structuredReplies, MetaContexts metaContexts) {

    /** A session with {@code base:allocation} alone selected or nothing. */
    Session(Export export, boolean structuredReplies, boolean baseAllocationSelected) {
        this(export, structuredReplies, baseAllocationSelected ? new MetaContexts(true, false) : MetaContexts.NONE);
    }

    /** Transmission flags sent to the client (they depend on structured replies for DF). */
    int transmissionFlags() {
        return Handshake.transmissionFlags(structuredReplies);
    }

    TransmissionLimits limits() {
        return new TransmissionLimits(export.device.sizeBytes(), export.device.logicalBlockSize(),
                NbdWire.MAX_PAYLOAD_BYTES, structuredReplies, metaContexts.any());
    }
}
