package pcache.export.nbd.internal;

/**
 * One export as listed by {@link NbdServer#exports()}.
 *
 * @param name export name clients ask for
 * @param sizeBytes size of the exported device
 * @param connections clients currently attached to it
 * @param statistics its counters
 */
public record ExportInfo(String name, long sizeBytes, int connections, ExportStatistics statistics) {
}
