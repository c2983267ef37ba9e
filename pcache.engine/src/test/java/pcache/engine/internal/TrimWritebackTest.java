package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import pcache.api.CacheMode;
import pcache.api.spi.WritebackPolicy;
import pcache.engine.internal.engine.CacheEngine;
import pcache.writeback.internal.BatchingWritebackPolicy;
import pcache.writeback.internal.OrderedWritebackPolicy;

/**
 * Trims reach the backing device through write-back, at their place in the log: after every
 * older write of their range was written back (and, for the ordered policy, flushed), before any
 * newer one. The backing device here discards like a thin disk (a trimmed range reads zeroes), so
 * a trim passed on too early lets older data come back over it, and one passed on too late
 * destroys newer data.
 */
class TrimWritebackTest {

    private static final long MIB = Harness.MIB;
    private static final int BLOCK = 4096;
    private static final long LOGICAL = 16 * MIB;
    private static final int BLOCKS = (int) (LOGICAL / BLOCK);

    /** One backing operation as the device saw it. */
    private record Op(char kind, long offset, long length) {
    }

    @Test
    void aTrimReachesTheBackingDeviceAfterTheOlderWritesAndTheirFlushAndBeforeTheNewer() throws Exception {
        for (WritebackPolicy policy : List.of(new OrderedWritebackPolicy(), new BatchingWritebackPolicy(
                new BatchingWritebackPolicy.Settings(100, 90, 600_000, 64L << 20, 0)))) {
            MemoryBacking disk = MemoryBacking.filled(LOGICAL, "disk", (byte) 1);
            List<Op> ops = Collections.synchronizedList(new ArrayList<>());
            disk.onWrite = (off, bytes) -> ops.add(new Op('W', off, bytes.length));
            disk.onFlush = () -> ops.add(new Op('F', 0, 0));
            disk.onTrim = () -> ops.add(new Op('T', 0, 0));
            CacheEngine engine = Harness.open(Harness.config("trim"), new SimulatedPmem(Harness.deviceBytes(6), false),
                    Harness.holder(disk), Harness.onlyWhenDraining(policy));
            CacheDeviceFacade dev = new CacheDeviceFacade(engine, Harness.holder(disk), CacheMode.WRITEBACK);
            try {
                dev.write(MIB, Harness.pattern(MIB, (int) MIB, 1), false); // older: trimmed away
                dev.write(4 * MIB, Harness.pattern(4 * MIB, (int) MIB, 2), false); // elsewhere, before the trim
                dev.trim(MIB, MIB);
                dev.write(MIB, Harness.pattern(MIB, (int) (MIB / 2), 3), false); // newer: must survive
                assertTrue(disk.trimLog.isEmpty(), "the trim waits for write-back (" + policy.name() + ")");
                dev.drain(null);
            } finally {
                engine.close();
            }
            int trim = -1;
            for (int i = 0; i < ops.size(); i++) {
                if (ops.get(i).kind() == 'T') {
                    assertEquals(-1, trim, "one trim");
                    trim = i;
                }
            }
            assertTrue(trim > 0, policy.name() + ": the trim reached the backing device: " + ops);
            assertEquals(List.of(MIB + "+" + MIB), disk.trimLog.stream().map(t -> t[0] + "+" + t[1]).toList());
            // before it: both older writes and a flush after them; after it: only the newer write
            int lastOlderWrite = -1;
            for (int i = 0; i < trim; i++) {
                if (ops.get(i).kind() == 'W') {
                    lastOlderWrite = i;
                }
            }
            assertTrue(lastOlderWrite >= 0, policy.name() + ": older writes before the trim: " + ops);
            assertTrue(ops.subList(lastOlderWrite, trim).contains(new Op('F', 0, 0)),
                    policy.name() + ": a backing flush between the older writes and the trim: " + ops);
            for (Op op : ops.subList(trim + 1, ops.size())) {
                if (op.kind() == 'W') {
                    assertTrue(op.offset() >= MIB && op.offset() + op.length() <= MIB + MIB / 2,
                            policy.name() + ": only the newer write after the trim: " + ops);
                }
            }
            assertArrayEquals(Harness.pattern(MIB, (int) (MIB / 2), 3).array(), disk.content(MIB, (int) (MIB / 2)));
            assertArrayEquals(new byte[(int) (MIB / 2)], disk.content(MIB + MIB / 2, (int) (MIB / 2)),
                    policy.name() + ": the rest of the trimmed range is discarded, not the older data");
            assertArrayEquals(Harness.pattern(4 * MIB, (int) MIB, 2).array(), disk.content(4 * MIB, (int) MIB));
            byte[] ones = new byte[(int) MIB];
            java.util.Arrays.fill(ones, (byte) 1);
            assertArrayEquals(ones, disk.content(0, (int) MIB));
        }
    }

    @Test
    void aTrimWithNothingDirtyIsPassedOnWithoutWaitingForWrites() throws Exception {
        MemoryBacking disk = MemoryBacking.filled(LOGICAL, "disk", (byte) 1);
        CacheEngine engine = Harness.open(Harness.config("trim-clean"), new SimulatedPmem(Harness.deviceBytes(6), false),
                Harness.holder(disk), new OrderedWritebackPolicy());
        CacheDeviceFacade dev = new CacheDeviceFacade(engine, Harness.holder(disk), CacheMode.WRITEBACK);
        try {
            dev.trim(2 * MIB, 3 * MIB);
            dev.drain(null); // returns once the trims due are passed on
            assertEquals(List.of(2 * MIB + "+" + 3 * MIB), disk.trimLog.stream().map(t -> t[0] + "+" + t[1]).toList());
            assertArrayEquals(new byte[(int) MIB], disk.content(3 * MIB, (int) MIB));
        } finally {
            engine.close();
        }
    }

    /**
     * Write-back takes the trims due before it sends them. Until the backing device has them, a
     * drain must not return (its caller may look at the backing device) and a switch to
     * write-through must not return (its next write could be trimmed away there). Here the
     * backing device's trim waits until the test has given the drain or the switch half a second.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"drain", "switch to write-through"})
    void aTrimWriteBackIsSendingStillWaits(String what) throws Exception {
        try (HeldTrim held = new HeldTrim("trim-sending")) {
            CompletableFuture<Void> waiting = CompletableFuture.runAsync(() -> {
                try {
                    if (what.equals("drain")) {
                        held.dev.drain(null);
                    } else {
                        held.dev.setMode(CacheMode.WRITETHROUGH);
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            try {
                waiting.get(500, TimeUnit.MILLISECONDS);
                fail("the " + what + " returned while the trim was still being sent");
            } catch (TimeoutException expected) {
                // waits for the trim, as it should
            }
            held.release.countDown();
            waiting.get(10, TimeUnit.SECONDS);
            assertArrayEquals(new byte[(int) MIB], held.disk.content(2 * MIB, (int) MIB));
        }
    }

    /**
     * A switch to write-through interrupted while it waits for a trim being sent fails and leaves
     * the mode as it was: write-through with the trims still owed would let one of them remove a
     * write-through write from the backing device.
     */
    @Test
    void anInterruptedSwitchToWriteThroughLeavesTheModeAsItWas() throws Exception {
        try (HeldTrim held = new HeldTrim("trim-interrupt")) {
            AtomicReference<Throwable> outcome = new AtomicReference<>();
            Thread switcher = new Thread(() -> {
                try {
                    held.dev.setMode(CacheMode.WRITETHROUGH);
                    outcome.set(new AssertionError("the switch returned while the trim was being sent"));
                } catch (Throwable t) {
                    outcome.set(t);
                }
            }, "switcher");
            switcher.start();
            // interrupt until it has ended: the interrupt may come before it waits, or while it does
            while (switcher.isAlive()) {
                switcher.interrupt();
                switcher.join(50);
            }
            assertTrue(outcome.get() instanceof InterruptedIOException, String.valueOf(outcome.get()));
            assertEquals(CacheMode.WRITEBACK, held.dev.mode(), "the mode is as it was");
        }
    }

    /**
     * A cache in write-back mode whose write-back is sending a trim of [2 MiB, 3 MiB) to a
     * backing device that holds it until {@link #release} (at most 10 s).
     */
    private static final class HeldTrim implements AutoCloseable {
        final MemoryBacking disk = MemoryBacking.filled(LOGICAL, "disk", (byte) 1);
        final CountDownLatch release = new CountDownLatch(1);
        final CacheEngine engine;
        final CacheDeviceFacade dev;

        HeldTrim(String name) throws Exception {
            CountDownLatch inTrim = new CountDownLatch(1);
            disk.onTrim = () -> {
                inTrim.countDown();
                try {
                    release.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            };
            engine = Harness.open(Harness.config(name), new SimulatedPmem(Harness.deviceBytes(6), false),
                    Harness.holder(disk), new OrderedWritebackPolicy());
            dev = new CacheDeviceFacade(engine, Harness.holder(disk), CacheMode.WRITEBACK);
            try {
                dev.trim(2 * MIB, MIB);
                assertTrue(inTrim.await(10, TimeUnit.SECONDS), "write-back is sending the trim");
            } catch (Exception | AssertionError e) {
                close();
                throw e;
            }
        }

        @Override
        public void close() throws Exception {
            release.countDown();
            engine.close();
        }
    }

    @Test
    void writeThroughPassesTrimsOnAtOnceAndDropsThoseWriteBackStillOwes() throws Exception {
        MemoryBacking disk = MemoryBacking.filled(LOGICAL, "disk", (byte) 1);
        CacheEngine engine = Harness.open(Harness.config("trim-wt"), new SimulatedPmem(Harness.deviceBytes(6), false),
                Harness.holder(disk), Harness.onlyWhenDraining(new OrderedWritebackPolicy()));
        CacheDeviceFacade dev = new CacheDeviceFacade(engine, Harness.holder(disk), CacheMode.WRITEBACK);
        try {
            dev.write(MIB, Harness.pattern(MIB, (int) MIB, 1), false);
            dev.trim(MIB, MIB); // owed by write-back
            dev.setMode(CacheMode.WRITETHROUGH);
            dev.write(MIB, Harness.pattern(MIB, (int) MIB, 2), false); // on the backing device at once
            assertArrayEquals(Harness.pattern(MIB, (int) MIB, 2).array(), disk.content(MIB, (int) MIB));
            dev.trim(8 * MIB, MIB); // write-through: at once
            assertEquals(List.of(8 * MIB + "+" + MIB), disk.trimLog.stream().map(t -> t[0] + "+" + t[1]).toList());
            dev.drain(null);
            assertEquals(1, disk.trimLog.size(), "the trim owed before the switch was dropped, never sent after the"
                    + " write-through write");
            assertArrayEquals(Harness.pattern(MIB, (int) MIB, 2).array(), disk.content(MIB, (int) MIB));
        } finally {
            engine.close();
        }
    }

    /** {@code -Dpcache.trim.seed=S} runs only seed S. */
    private static final Long ONLY_SEED = Long.getLong("pcache.trim.seed");

    /**
     * Random writes, trims and flushes while write-back runs freely (ordered in small groups, and
     * batching): whenever data reaches the backing device, no trim issued after that data was
     * written may have been passed on before it; whenever a trim reaches it, no data written after
     * the trim may be there yet. After a drain the backing device holds every block's newest
     * version, and zeroes where a trim came last.
     */
    @Test
    void randomWritesAndTrimsReachTheBackingDeviceInTheirOrder() throws Exception {
        for (long seed = 1; seed <= 3; seed++) {
            if (ONLY_SEED != null && ONLY_SEED != seed) {
                continue;
            }
            System.out.println("TrimWritebackTest: seed " + seed + " (replay with -Dpcache.trim.seed=" + seed + ")");
            run(seed, new OrderedWritebackPolicy(256 << 10, 1024), false);
            run(seed, new BatchingWritebackPolicy(new BatchingWritebackPolicy.Settings(0, 0, 0, 1L << 20, 0)), false);
        }
    }

    /** The same with a neighbour writing to the first half of the device from another thread. */
    @Test
    void randomWritesAndTrimsBesideAnotherWriterReachTheBackingDeviceInTheirOrder() throws Exception {
        for (long seed = 4; seed <= 5; seed++) {
            if (ONLY_SEED != null && ONLY_SEED != seed) {
                continue;
            }
            System.out.println("TrimWritebackTest: seed " + seed + " beside a writer (replay with -Dpcache.trim.seed="
                    + seed + "; the threads' timing is not replayed)");
            run(seed, new OrderedWritebackPolicy(256 << 10, 1024), true);
            run(seed, new BatchingWritebackPolicy(new BatchingWritebackPolicy.Settings(0, 0, 0, 1L << 20, 0)), true);
        }
    }

    private static void run(long seed, WritebackPolicy policy, boolean neighbour) throws Exception {
        String where = "seed " + seed + ", " + policy.name() + (neighbour ? " beside a writer" : "") + ": ";
        int lowest = neighbour ? BLOCKS / 2 : 0; // the blocks this thread writes and trims, and checks
        Random random = new Random(seed);
        MemoryBacking disk = new MemoryBacking(LOGICAL, "disk", false);
        long[] onBacking = new long[BLOCKS]; // the version each block holds there (0: none or discarded)
        long[] lastTrimSent = new long[BLOCKS];
        List<ArrayDeque<Long>> trimsOwed = new ArrayList<>();
        for (int b = 0; b < BLOCKS; b++) {
            trimsOwed.add(new ArrayDeque<>());
        }
        List<String> violations = Collections.synchronizedList(new ArrayList<>());
        disk.onWrite = (off, bytes) -> {
            synchronized (onBacking) {
                for (int i = 0; i < bytes.length; i += BLOCK) {
                    int b = (int) ((off + i) / BLOCK);
                    if (b < lowest) {
                        continue; // the neighbour's
                    }
                    long version = ByteBuffer.wrap(bytes, i, 8).getLong();
                    if (lastTrimSent[b] > version) {
                        violations.add("block " + b + ": version " + version + " written back after trim "
                                + lastTrimSent[b] + " was passed on");
                    }
                    onBacking[b] = version;
                }
            }
        };
        disk.onTrim = () -> {
            long[] t = disk.trimLog.get(disk.trimLog.size() - 1);
            synchronized (onBacking) {
                for (long pos = t[0]; pos < t[0] + t[1]; pos += BLOCK) {
                    int b = (int) (pos / BLOCK);
                    Long version = trimsOwed.get(b).poll();
                    if (version == null) {
                        violations.add("block " + b + ": a trim passed on that no client sent");
                        continue;
                    }
                    if (onBacking[b] > version) {
                        violations.add("block " + b + ": trim " + version + " passed on after version "
                                + onBacking[b] + " was written back");
                    }
                    onBacking[b] = 0;
                    lastTrimSent[b] = version;
                }
            }
        };
        long[] newest = new long[BLOCKS]; // per block: version written last, or -trim when a trim came last
        CacheEngine engine = Harness.open(Harness.config("trim-random"), new SimulatedPmem(Harness.deviceBytes(8), false),
                Harness.holder(disk), policy);
        CacheDeviceFacade dev = new CacheDeviceFacade(engine, Harness.holder(disk), CacheMode.WRITEBACK);
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.atomic.AtomicReference<Throwable> neighbourFailed = new java.util.concurrent.atomic.AtomicReference<>();
        Thread writer = new Thread(() -> {
            Random r = new Random(seed + 1000);
            try {
                while (!stop.get()) {
                    dev.write((long) r.nextInt(BLOCKS / 2) * BLOCK, ByteBuffer.allocate(BLOCK).putLong(0, 1), false);
                }
            } catch (Throwable t) {
                neighbourFailed.set(t);
            }
        }, "neighbour");
        if (neighbour) {
            writer.start();
        }
        try {
            long version = 0;
            for (int step = 0; step < 600; step++) {
                int kind = random.nextInt(10);
                version++;
                if (kind < 6) {
                    int blocks = 1 + random.nextInt(random.nextInt(8) == 0 ? 128 : 8);
                    int first = lowest + random.nextInt(BLOCKS - lowest - blocks + 1);
                    ByteBuffer data = ByteBuffer.allocate(blocks * BLOCK);
                    for (int b = 0; b < blocks; b++) {
                        data.putLong(b * BLOCK, version).putLong(b * BLOCK + 8, first + b);
                    }
                    dev.write((long) first * BLOCK, data, random.nextInt(20) == 0);
                    for (int b = first; b < first + blocks; b++) {
                        newest[b] = version;
                    }
                } else if (kind < 8) {
                    int blocks = 1 + random.nextInt(random.nextInt(4) == 0 ? 1024 : 16);
                    int first = lowest + random.nextInt(BLOCKS - lowest - blocks + 1);
                    synchronized (onBacking) {
                        for (int b = first; b < first + blocks; b++) {
                            trimsOwed.get(b).add(version);
                        }
                    }
                    dev.trim((long) first * BLOCK, (long) blocks * BLOCK);
                    for (int b = first; b < first + blocks; b++) {
                        newest[b] = -version;
                    }
                } else if (kind == 8) {
                    dev.flush();
                } else if (random.nextInt(10) == 0) {
                    dev.drain(null);
                }
            }
            stop.set(true);
            writer.join();
            dev.drain(null);
        } finally {
            stop.set(true);
            writer.join();
            engine.close();
        }
        assertEquals(null, neighbourFailed.get(), where + "the neighbour's writes");
        assertEquals(List.of(), violations.subList(0, Math.min(10, violations.size())), where + violations.size()
                + " violations");
        for (int b = lowest; b < BLOCKS; b++) {
            long got = ByteBuffer.wrap(disk.content((long) b * BLOCK, 512)).getLong();
            long want = Math.max(0, newest[b]);
            assertEquals(want, got, where + "block " + b + " on the backing device after the drain (newest "
                    + newest[b] + ", negative: trimmed)");
            assertTrue(trimsOwed.get(b).isEmpty(), where + "block " + b + ": trims never passed on: " + trimsOwed.get(b));
        }
    }
}
