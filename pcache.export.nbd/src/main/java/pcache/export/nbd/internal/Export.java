package pcache.export.nbd.internal;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.LongAdder;

import pcache.api.BlockDevice;

/**
 * A device offered under a name, the connections attached to it and its counters. Once
 * {@link #withdraw withdrawn} it accepts no new connections.
 */
final class Export {
    final String name;
    final BlockDevice device;
    final String description;

    private final LongAdder requests = new LongAdder();
    private final LongAdder bytesRead = new LongAdder();
    private final LongAdder bytesWritten = new LongAdder();
    private final LongAdder errors = new LongAdder();

    private final Set<NbdConnection> connections = new LinkedHashSet<>();
    private boolean withdrawn;

    Export(String name, BlockDevice device, String description) {
        this.name = name;
        this.device = device;
        this.description = description;
    }

    /** Adds a connection that enters transmission; false once the export is withdrawn. */
    synchronized boolean attach(NbdConnection connection) {
        if (withdrawn) {
            return false;
        }
        connections.add(connection);
        return true;
    }

    synchronized void detach(NbdConnection connection) {
        connections.remove(connection);
    }

    /**
     * Marks the export withdrawn, tells every attached connection to refuse new requests
     * (ESHUTDOWN) and returns those connections; once {@link #isWithdrawn()} is true, all of
     * them refuse.
     */
    synchronized List<NbdConnection> withdraw() {
        withdrawn = true;
        connections.forEach(NbdConnection::withdraw);
        return new ArrayList<>(connections);
    }

    synchronized boolean isWithdrawn() {
        return withdrawn;
    }

    synchronized int connectionCount() {
        return connections.size();
    }

    void countRequest() {
        requests.increment();
    }

    void countRead(long bytes) {
        bytesRead.add(bytes);
    }

    void countWritten(long bytes) {
        bytesWritten.add(bytes);
    }

    void countError() {
        errors.increment();
    }

    ExportStatistics statistics() {
        return new ExportStatistics(requests.sum(), bytesRead.sum(), bytesWritten.sum(), errors.sum());
    }

    ExportInfo info() {
        return new ExportInfo(name, device.sizeBytes(), connectionCount(), statistics());
    }
}
