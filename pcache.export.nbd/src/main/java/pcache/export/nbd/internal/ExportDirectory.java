package pcache.export.nbd.internal;

import java.util.List;

/** What the handshake needs to know about the server: its exports and whether it is stopping. */
interface ExportDirectory {

    /**
     * The export a client means by {@code name}: an exact match, or for the default name ""
     * the only export when there is exactly one; null if none.
     */
    Export find(String name);

    /** Every export, in a stable order. */
    List<Export> list();

    /** True once the server began shutting down: options get ERR_SHUTDOWN. */
    boolean isShuttingDown();
}
