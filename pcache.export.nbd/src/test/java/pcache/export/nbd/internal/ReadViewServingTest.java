package pcache.export.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static pcache.api.nbd.NbdWire.CHUNK_OFFSET_DATA;
import static pcache.export.nbd.internal.ConcurrencyTest.await;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Large READs sent straight from the device's memory ({@code tryReadView}): the reply carries the
 * lent bytes, small reads are still copied, and every view is closed once its reply is written
 * or can no longer be (a client gone with replies unread).
 */
@Timeout(30)
class ReadViewServingTest {
    private static final int READ = NbdCommand.READ.type;
    private static final long SEED = 0x71E3_5EEDL;

    @Test
    void largeReadsAreSentFromTheDevicesViewsAndEveryViewIsClosed() throws Exception {
        System.out.println("largeReadsAreSentFromTheDevicesViewsAndEveryViewIsClosed seed " + SEED);
        for (boolean structured : new boolean[] {true, false}) {
            try (ServerFixture fixture = new ServerFixture();
                 RawNbdClient c = fixture.open("disk", structured)) {
                fixture.disk.lendsViews = true;
                byte[] content = new byte[ServerFixture.DISK_BYTES];
                new Random(SEED).nextBytes(content);
                fixture.disk.fill(0, content);
                // 1 MiB reads go to a worker, 64 KiB ones are served by the reader in place; 4 KiB
                // ones are copied
                int[] lengths = {1 << 20, 65536, 4096, 1 << 20, 131072, 65536, 1 << 20, 4096};
                long[] offsets = new long[lengths.length];
                for (int i = 0; i < lengths.length; i++) {
                    offsets[i] = (long) i * (2 << 20) + 4096;
                }
                if (structured) {
                    // pipelined: a worker's and the reader's replies may come in any order
                    for (int i = 0; i < lengths.length; i++) {
                        c.request(0, READ, i, offsets[i], lengths[i], null);
                    }
                }
                for (int n = 0; n < lengths.length; n++) {
                    if (!structured) {
                        // a simple reply does not say its length: one read at a time
                        c.request(0, READ, n, offsets[n], lengths[n], null);
                    }
                    RawNbdClient.Reply r = structured ? c.readReply(0) : c.readReply(lengths[n]);
                    int i = (int) r.cookie();
                    assertEquals(0, r.error());
                    ByteBuffer payload = ByteBuffer.wrap(r.payload());
                    if (structured) {
                        assertEquals(CHUNK_OFFSET_DATA, r.type());
                        assertEquals(offsets[i], payload.getLong());
                    }
                    byte[] got = new byte[payload.remaining()];
                    payload.get(got);
                    assertArrayEquals(Arrays.copyOfRange(content, (int) offsets[i], (int) offsets[i] + lengths[i]),
                            got, "read " + i + " (" + lengths[i] + " bytes, structured " + structured + ")");
                }
                assertEquals(6, fixture.disk.viewsLent.get(), "every read of 64 KiB or more was lent");
                await(() -> fixture.disk.viewsOpen.get() == 0);
                assertEquals(0, fixture.disk.extraViewCloses.get(), "each view closed once");
            }
        }
    }

    @Test
    void readViewsOffCopiesEveryReadTheDefaultLendsOnEveryConnectionAndAutoButOnClearTextUnixSockets()
            throws Exception {
        try (ServerFixture fixture = new ServerFixture(NbdServerConfig.defaults()
                .withReadViews(NbdServerConfig.ReadViews.OFF));
             RawNbdClient c = fixture.open("disk", true)) {
            fixture.disk.lendsViews = true;
            c.request(0, READ, 1, 0, 1 << 20, null);
            assertEquals(0, c.readReply(0).error());
            assertEquals(0, fixture.disk.viewsLent.get(), "off: copied");
        }
        assertEquals(NbdServerConfig.ReadViews.ON, NbdServerConfig.defaults().readViews());
        assertTrue(NbdServerConfig.ReadViews.AUTO.appliesTo(false, false), "TCP");
        assertTrue(NbdServerConfig.ReadViews.AUTO.appliesTo(false, true), "TCP with TLS");
        assertTrue(NbdServerConfig.ReadViews.AUTO.appliesTo(true, true), "a unix socket with TLS");
        assertTrue(!NbdServerConfig.ReadViews.AUTO.appliesTo(true, false), "not a clear-text unix socket");
        assertTrue(NbdServerConfig.ReadViews.ON.appliesTo(true, false));
        assertTrue(!NbdServerConfig.ReadViews.OFF.appliesTo(false, true));
        assertEquals(NbdServerConfig.ReadViews.ON, NbdServerConfig.ReadViews.parse(" on "));
    }

    /** A client that asks for much and reads nothing, then goes: the views of its replies are closed. */
    @Test
    void theViewsOfRepliesNeverWrittenAreClosedWhenTheClientGoes() throws Exception {
        try (ServerFixture fixture = new ServerFixture()) {
            fixture.disk.lendsViews = true;
            // a 64 KiB receive window: 60 MiB of replies cannot all fit in the sockets' buffers
            RawNbdClient c = RawNbdClient.open(fixture.address, "disk", true, 64 << 10);
            int reads = 60; // less than the connection's 64 MiB budget: every one is lent
            for (int i = 0; i < reads; i++) {
                c.request(0, READ, i, (long) (i % 15) << 20, 1 << 20, null);
            }
            await(() -> fixture.disk.viewsLent.get() == reads);
            assertTrue(fixture.disk.viewsOpen.get() > 0, "replies wait for a client that does not read");
            c.close();
            await(() -> fixture.disk.viewsOpen.get() == 0);
            assertEquals(0, fixture.disk.extraViewCloses.get(), "each view closed once");
            // and the server goes on serving others
            try (RawNbdClient d = fixture.open("disk", true)) {
                d.request(0, READ, 99, 0, 1 << 20, null);
                RawNbdClient.Reply r = d.readReply(0);
                assertEquals(0, r.error());
                assertEquals(8 + (1 << 20), r.payload().length);
            }
            await(() -> fixture.disk.viewsOpen.get() == 0);
        }
    }
}
