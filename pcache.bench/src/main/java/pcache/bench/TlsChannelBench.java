package pcache.bench;

import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.GatheringByteChannel;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * 1 MiB transfers over a loopback socket pair in clear text, with X.509 (JSSE) and with PSK
 * (Bouncy Castle), TLS 1.3: the cost of pcache's TLS channels where NBD's 1 MiB reads and writes
 * meet them. {@code send}: the benchmark thread writes a 16-byte header and 1 MiB in one gathering
 * write (as the export sends a read reply) while a peer thread drains; {@code receive}: it reads
 * 1 MiB that a peer thread keeps sending. One operation is 1 MiB: ops/s = MiB/s.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class TlsChannelBench {

    static final int MIB = 1 << 20;
    static final int HEADER = 16;

    /** The benchmark thread sends; a peer thread drains. */
    @State(Scope.Benchmark)
    public static class Sending {
        @Param({"clear", "x509", "psk"})
        public String mode;

        TlsLoopback loopback;
        Thread drain;
        final ByteBuffer header = ByteBuffer.allocateDirect(HEADER);
        final ByteBuffer payload = ByteBuffer.allocateDirect(MIB);
        final ByteBuffer[] buffers = {header, payload};

        @Setup(Level.Trial)
        public void setUp() throws Exception {
            loopback = TlsLoopback.open(mode);
            drain = new Thread(() -> {
                ByteBuffer sink = ByteBuffer.allocateDirect(MIB + HEADER);
                try {
                    while (true) {
                        sink.clear();
                        if (loopback.far.read(sink) < 0) {
                            return;
                        }
                    }
                } catch (Exception closed) {
                    // the trial ended
                }
            }, "tls-bench-drain");
            drain.setDaemon(true);
            drain.start();
        }

        @TearDown(Level.Trial)
        public void tearDown() throws Exception {
            loopback.close();
            drain.join(10_000);
        }
    }

    /** The benchmark thread receives; a peer thread keeps sending. */
    @State(Scope.Benchmark)
    public static class Receiving {
        @Param({"clear", "x509", "psk"})
        public String mode;

        TlsLoopback loopback;
        Thread source;
        final ByteBuffer target = ByteBuffer.allocateDirect(MIB);

        @Setup(Level.Trial)
        public void setUp() throws Exception {
            loopback = TlsLoopback.open(mode);
            source = new Thread(() -> {
                ByteBuffer header = ByteBuffer.allocateDirect(HEADER);
                ByteBuffer payload = ByteBuffer.allocateDirect(MIB);
                ByteBuffer[] buffers = {header, payload};
                try {
                    while (true) {
                        header.clear();
                        payload.clear();
                        TlsLoopback.writeFully((GatheringByteChannel) loopback.far, buffers, HEADER + MIB);
                    }
                } catch (Exception closed) {
                    // the trial ended
                }
            }, "tls-bench-source");
            source.setDaemon(true);
            source.start();
        }

        @TearDown(Level.Trial)
        public void tearDown() throws Exception {
            loopback.close();
            source.join(10_000);
        }
    }

    @Benchmark
    public void send(Sending state) throws Exception {
        state.header.clear();
        state.payload.clear();
        TlsLoopback.writeFully((GatheringByteChannel) state.loopback.near, state.buffers, HEADER + MIB);
    }

    @Benchmark
    public int receive(Receiving state) throws Exception {
        ByteChannel channel = state.loopback.near;
        state.target.clear();
        TlsLoopback.readFully(channel, state.target);
        return state.target.get(0);
    }
}
