package pcache.export.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static pcache.export.nbd.internal.ConcurrencyTest.await;

import java.io.IOException;
import java.net.ConnectException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Withdrawing an export and stopping the server while clients are connected. */
@Timeout(30)
class WithdrawalTest {
    private static final int READ = NbdCommand.READ.type;
    private static final int WRITE = NbdCommand.WRITE.type;
    private static final int FLUSH = NbdCommand.FLUSH.type;

    /**
     * A fixture whose withdrawal waits long for requests in flight: the tests release them
     * explicitly, and a loaded machine must not let the drain give up first.
     */
    private static ServerFixture patientFixture() throws java.io.IOException {
        return new ServerFixture(NbdServerConfig.defaults().withDrainTimeout(java.time.Duration.ofSeconds(60)));
    }

    @Test
    void unexportFinishesInFlightRequestsRefusesNewOnesAndLeavesOtherExportsAlone() throws Exception {
        try (ServerFixture fixture = patientFixture();
             RawNbdClient disk = fixture.open("disk", true);
             RawNbdClient other = fixture.open("other", false)) {
            ConcurrencyTest.Gate gate = new ConcurrencyTest.Gate("read", 0);
            fixture.disk.setHook(gate);
            disk.request(0, READ, 1, 0, 4096, null);
            await(() -> gate.entered.get() == 1);

            Export export = fixture.server.find("disk");
            CompletableFuture<Boolean> unexported = CompletableFuture.supplyAsync(() -> fixture.server.unexport("disk"));
            await(export::isWithdrawn);

            disk.request(0, WRITE, 2, 8192, 512, new byte[512]);
            assertEquals(NbdError.ESHUTDOWN.wireValue, disk.errorOf(2));
            assertFalse(unexported.isDone(), "withdrawal waits for the request in flight");

            gate.release();
            RawNbdClient.Reply inFlight = disk.readReply(0);
            assertEquals(1, inFlight.cookie());
            assertEquals(0, inFlight.error());
            assertTrue(disk.closedByServer());
            assertTrue(unexported.get(10, TimeUnit.SECONDS));

            assertEquals(1, fixture.disk.flushes.get(), "the withdrawn device is flushed once");
            assertEquals(0, fixture.disk.writes.get());
            assertEquals(1, fixture.server.exports().size());
            assertEquals("other", fixture.server.exports().get(0).name());

            other.request(0, FLUSH, 3, 0, 0, null);
            assertEquals(0, other.errorOf(3));
            assertFalse(fixture.server.unexport("disk"));
        }
    }

    @Test
    void anExportCanComeBackUnderTheSameName() throws Exception {
        try (ServerFixture fixture = new ServerFixture()) {
            assertTrue(fixture.server.unexport("disk"));
            MemoryBlockDevice replacement = new MemoryBlockDevice("disk2", 1 << 20);
            fixture.server.export("disk", replacement);
            assertThrows(IllegalStateException.class, () -> fixture.server.export("disk", replacement));
            try (RawNbdClient c = fixture.open("disk", false)) {
                c.request(0, WRITE, 1, 0, 512, new byte[512]);
                assertEquals(0, c.errorOf(1));
            }
            assertEquals(1, replacement.writes.get());
        }
    }

    @Test
    void closeFinishesInFlightRequestsFlushesEachDeviceOnceAndStopsListening() throws Exception {
        ServerFixture fixture = ServerFixture.outsideTheEphemeralRange(
                NbdServerConfig.defaults().withDrainTimeout(java.time.Duration.ofSeconds(60)));
        try (RawNbdClient disk = fixture.open("disk", false)) {
            ConcurrencyTest.Gate gate = new ConcurrencyTest.Gate("read", 0);
            fixture.disk.setHook(gate);
            disk.request(0, READ, 1, 0, 4096, null);
            await(() -> gate.entered.get() == 1);

            Export export = fixture.server.find("disk");
            CompletableFuture<Void> closed = CompletableFuture.runAsync(fixture.server::close);
            await(export::isWithdrawn);
            disk.request(0, WRITE, 2, 8192, 512, new byte[512]);
            assertEquals(NbdError.ESHUTDOWN.wireValue, disk.errorOf(2));

            gate.release();
            RawNbdClient.Reply inFlight = disk.readReply(4096);
            assertEquals(1, inFlight.cookie());
            assertEquals(0, inFlight.error());
            assertTrue(disk.closedByServer());
            closed.get(10, TimeUnit.SECONDS);
        }
        assertEquals(1, fixture.disk.flushes.get());
        assertEquals(1, fixture.other.flushes.get());
        assertEquals(java.util.List.of(), fixture.server.boundAddresses());
        assertThrows(ConnectException.class, fixture::connect);
        fixture.server.close(); // idempotent
        assertEquals(1, fixture.disk.flushes.get());
    }

    @Test
    void closeDropsClientsStillInTheHandshake() throws IOException {
        ServerFixture fixture = new ServerFixture();
        try (RawNbdClient c = fixture.connect().handshakeStart()) {
            fixture.server.close();
            assertTrue(c.closedByServer());
        }
    }
}
