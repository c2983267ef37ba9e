package pcache.export.nbd.internal;

/**
 * What a request is validated against: the export's geometry and what was negotiated.
 *
 * @param sizeBytes export size
 * @param blockSize advertised minimum block size (alignment of offsets and lengths)
 * @param maxPayloadBytes advertised maximum READ/WRITE payload
 * @param structuredReplies whether NBD_OPT_STRUCTURED_REPLY was agreed
 * @param metaContextSelected whether SET_META_CONTEXT selected a context for this export
 */
record TransmissionLimits(long sizeBytes, int blockSize, int maxPayloadBytes,
                          boolean structuredReplies, boolean metaContextSelected) {
}
