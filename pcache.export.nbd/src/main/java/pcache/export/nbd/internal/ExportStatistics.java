package pcache.export.nbd.internal;

/**
 * Counters of one export since it was exported.
 *
 * @param requests transmission requests received (including refused ones and DISC)
 * @param bytesRead bytes returned by successful READs
 * @param bytesWritten bytes stored by successful WRITEs (WRITE_ZEROES and TRIM not included)
 * @param errors requests answered with an error
 */
public record ExportStatistics(long requests, long bytesRead, long bytesWritten, long errors) {
}
