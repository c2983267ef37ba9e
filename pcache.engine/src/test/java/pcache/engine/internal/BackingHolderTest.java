package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;

import org.junit.jupiter.api.Test;

import pcache.api.CacheConfigurationException;
import pcache.api.spi.BackingDevice;

/** Which devices the holder binds once a cache's check is installed. */
class BackingHolderTest {

    private final MemoryBacking own = new MemoryBacking(1 << 20, "own", false);
    private final MemoryBacking other = new MemoryBacking(1 << 20, "other", false);
    /** Devices the check accepts. */
    private final Set<BackingDevice> accepted = new CopyOnWriteArraySet<>(Set.of(own));

    private final BackingHolder.Check check = device -> {
        if (!accepted.contains(device)) {
            throw new CacheConfigurationException(device.description() + " is not this cache's disk");
        }
    };

    /**
     * A device bound before the cache's check was installed (while the cache opened) is checked
     * when it is, and unbound if it fails: no engine thread can use it. Before, a device bound
     * while the cache opened reached write-back before the one check after the open.
     */
    @Test
    void aDeviceBoundWhileTheCacheOpenedIsCheckedBeforeUse() throws IOException {
        BackingHolder holder = new BackingHolder("c");
        assertNull(holder.set(other)); // no check yet: the cache is still opening
        String refused = holder.checkWith(check);
        assertTrue(refused != null && refused.contains("not this cache's disk"), refused);
        assertNull(holder.peek(), "unbound before any thread of the cache could use it");
    }

    /** Once the check is installed, a wrong device is refused and the one bound stays. */
    @Test
    void aWrongDeviceIsRefusedAndTheBoundOneStays() throws IOException {
        BackingHolder holder = new BackingHolder("c");
        assertNull(holder.checkWith(check));
        assertNull(holder.set(own));
        String refused = holder.set(other);
        assertTrue(refused != null && refused.contains("other"), refused);
        assertSame(own, holder.peek());
        holder.remove(own);
        assertNull(holder.peek());
    }

    /**
     * A device refused earlier is offered again when a new check is installed (the cache was
     * re-opened, say with force_identity): it is bound if it passes. Before, it stayed unbound
     * until its service was registered again.
     */
    @Test
    void aRefusedDeviceIsOfferedAgainToTheNextCheck() throws IOException {
        BackingHolder holder = new BackingHolder("c");
        holder.checkWith(check);
        assertTrue(holder.set(other) != null);
        assertNull(holder.peek());
        accepted.add(other); // re-opened, accepting it now
        assertNull(holder.checkWith(check));
        assertSame(other, holder.peek());
    }
    /**
     * A client request's failure shows the device bound failing until a request works on it (or
     * for a while after the last failure); one met on a device no longer bound (a request still on
     * its way to the device swapped out) says nothing of the new one, and write-back's steps,
     * which may do no I/O at all, do not end it.
     */
    @Test
    void requestFailuresMarkOnlyTheDeviceBoundAndEndWhenARequestWorks() {
        BackingHolder holder = new BackingHolder("c");
        assertNull(holder.set(own));
        holder.requestFailed(other);
        assertSame(pcache.api.BackingState.ONLINE, holder.state(), "not the device bound");
        holder.requestFailed(own);
        assertSame(pcache.api.BackingState.FAILING, holder.state());
        holder.requestWorked(other);
        assertSame(pcache.api.BackingState.FAILING, holder.state(), "another device's success says nothing");
        holder.setFailing(false); // an idle write-back step
        assertSame(pcache.api.BackingState.FAILING, holder.state(), "write-back's step says nothing of requests");
        holder.requestWorked(own);
        assertSame(pcache.api.BackingState.ONLINE, holder.state());
        holder.requestFailed(own);
        assertNull(holder.set(other)); // a new device starts healthy
        assertSame(pcache.api.BackingState.ONLINE, holder.state());

        BackingHolder shownForNoTime = new BackingHolder("c", 0);
        assertNull(shownForNoTime.set(own));
        shownForNoTime.requestFailed(own);
        assertSame(pcache.api.BackingState.ONLINE, shownForNoTime.state(), "a failure shows for a while only");
    }
    /**
     * An open that waits for a device stops once every configured device the cache selects failed
     * to open, and says why; status says why none is bound. A request's wait (a read miss,
     * write-back) is not cut short: it waits its time, as for a swap. A runtime that cannot be
     * asked says nothing, and a device bound while the open waits is taken.
     */
    @Test
    @org.junit.jupiter.api.Timeout(120)
    void anOpenStopsWaitingOnceTheDevicesFailedButARequestWaitsItsTime() throws Exception {
        BackingHolder holder = new BackingHolder("c");
        java.util.concurrent.atomic.AtomicReference<String> why = new java.util.concurrent.atomic.AtomicReference<>();
        holder.failedDevicesFrom(why::get);
        assertEquals("none", holder.describe());
        why.set("backing device d cannot be opened: gone");
        assertEquals("none: backing device d cannot be opened: gone", holder.describe());
        long start = System.nanoTime();
        BackingHolder.DevicesFailed failed = assertThrows(BackingHolder.DevicesFailed.class,
                () -> holder.acquireForOpen(60_000));
        long seconds = java.util.concurrent.TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
        assertTrue(seconds < 30, "the open waited " + seconds + " s");
        assertTrue(failed.getMessage().startsWith("cache c waits for a backing device that cannot open: backing"
                + " device d cannot be opened: gone. "), failed.getMessage());
        BackingHolder.NoneBound request = assertThrows(BackingHolder.NoneBound.class, () -> holder.acquire(300));
        assertFalse(request instanceof BackingHolder.DevicesFailed, "a request waits its time: " + request);

        holder.failedDevicesFrom(() -> {
            throw new IllegalStateException("the runtime went away");
        });
        assertEquals("none", holder.describe());
        BackingHolder.NoneBound open = assertThrows(BackingHolder.NoneBound.class, () -> holder.acquireForOpen(500));
        assertFalse(open instanceof BackingHolder.DevicesFailed, "nothing known to have failed: " + open);

        holder.failedDevicesFrom(() -> null);
        Thread binder = new Thread(() -> {
            try {
                Thread.sleep(300);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            holder.set(own);
        });
        binder.start();
        assertSame(own, holder.acquireForOpen(60_000));
        binder.join();
        assertEquals("memory:own", holder.describe());
    }

    /**
     * One answer is not enough: a failure seen once and then not (a configuration on its way out,
     * another device's still to come) keeps the open waiting. A stop while the runtime is asked is
     * a stop, not a failure.
     */
    @Test
    @org.junit.jupiter.api.Timeout(120)
    void anOpenStopsOnlyOnTheSameAnswerTwiceAndAStopMeanwhileIsAStop() throws Exception {
        BackingHolder holder = new BackingHolder("c");
        java.util.concurrent.atomic.AtomicInteger asked = new java.util.concurrent.atomic.AtomicInteger();
        holder.failedDevicesFrom(() -> asked.getAndIncrement() % 2 == 0 ? "backing device d cannot be opened: gone" : null);
        // long enough for several answers even on a loaded machine (one every 200 ms)
        BackingHolder.NoneBound waited = assertThrows(BackingHolder.NoneBound.class, () -> holder.acquireForOpen(3_000));
        assertFalse(waited instanceof BackingHolder.DevicesFailed, "never twice in a row: " + waited);
        assertTrue(asked.get() >= 2, "asked " + asked.get() + " times");

        java.util.concurrent.atomic.AtomicInteger calls = new java.util.concurrent.atomic.AtomicInteger();
        holder.failedDevicesFrom(() -> {
            if (calls.incrementAndGet() == 2) {
                holder.stopOpens(); // the stop comes while the runtime is asked for the answer that ends the wait
            }
            return "backing device d cannot be opened: gone";
        });
        assertThrows(pcache.api.DeviceClosedException.class, () -> holder.acquireForOpen(60_000));
    }
}
