package pcache.export.nbd.internal;

/**
 * Why a request is answered with an error instead of being executed.
 *
 * @param error the value sent to the client
 * @param reason human-readable explanation, sent in structured ERROR chunks and logged
 */
record Rejection(NbdError error, String reason) {
}
