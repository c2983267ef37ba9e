package pcache.export.nbd.internal;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;

/** A running server on 127.0.0.1 (ephemeral port) exporting two in-memory devices. */
final class ServerFixture implements AutoCloseable {
    static final int DISK_BYTES = 16 << 20;
    static final int OTHER_BYTES = 1 << 20;

    final NbdServer server;
    final MemoryBlockDevice disk = new MemoryBlockDevice("disk", DISK_BYTES);
    final MemoryBlockDevice other = new MemoryBlockDevice("other", OTHER_BYTES);
    final InetSocketAddress address;

    ServerFixture() throws IOException {
        this(NbdServerConfig.defaults().withDrainTimeout(Duration.ofSeconds(5)));
    }

    ServerFixture(NbdServerConfig config) throws IOException {
        this(config, TlsPolicy.off());
    }

    ServerFixture(NbdServerConfig config, TlsPolicy tls) throws IOException {
        this(config, tls, "127.0.0.1:0");
    }

    /** A server listening on {@code listen} ({@code HOST:PORT}). */
    ServerFixture(NbdServerConfig config, TlsPolicy tls, String listen) throws IOException {
        server = new NbdServer(config, tls);
        server.export("disk", disk);
        server.export("other", other);
        try {
            address = (InetSocketAddress) server.listen(ListenAddress.parse(listen));
        } catch (IOException | RuntimeException e) {
            server.close();
            throw e;
        }
    }

    /**
     * A server on a loopback port below the ephemeral range ({@link pcache.testkit.LoopbackPorts}),
     * for a test that checks that nothing listens there after a close: on a port from the ephemeral
     * range (what {@code 127.0.0.1:0} gives) a later connect can meet another socket, or even itself
     * (a TCP self-connect, when the kernel picks that port as the connection's own).
     */
    static ServerFixture outsideTheEphemeralRange(NbdServerConfig config) throws IOException {
        IOException last = null;
        for (int attempt = 0; attempt < 10; attempt++) {
            try {
                return new ServerFixture(config, TlsPolicy.off(), "127.0.0.1:" + pcache.testkit.LoopbackPorts.free());
            } catch (IOException taken) {
                last = taken; // taken between the check and the bind: try another
            }
        }
        throw last;
    }

    RawNbdClient connect() throws IOException {
        return RawNbdClient.connect(address);
    }

    RawNbdClient open(String export, boolean structured) throws IOException {
        return RawNbdClient.open(address, export, structured);
    }

    /** The nbd URI of an export, for libnbd tools. */
    String uri(String export) {
        return "nbd://127.0.0.1:" + address.getPort() + "/" + export;
    }

    @Override
    public void close() {
        server.close();
    }
}
