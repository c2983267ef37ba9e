package pcache.export.nbd.internal;

import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * What the robustness tests measure about a running server from inside its JVM: its per-connection
 * threads, heap and direct memory after a GC, and the internal errors it logged (an exception that
 * escaped into a connection's catch-all is logged at ERROR). Also silences the expected warnings
 * while installed (malformed input is logged once per request by design).
 */
final class ServerHealth implements AutoCloseable {
    private static final Logger SERVER_LOG = Logger.getLogger("pcache.export.nbd.internal");

    private final Level savedLevel;
    private final List<LogRecord> errors = new ArrayList<>();
    private final Handler handler = new Handler() {
        @Override
        public void publish(LogRecord record) {
            if (record.getLevel().intValue() >= Level.SEVERE.intValue()) {
                synchronized (errors) {
                    errors.add(record);
                }
            }
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    ServerHealth() {
        savedLevel = SERVER_LOG.getLevel();
        SERVER_LOG.setLevel(Level.SEVERE);
        SERVER_LOG.addHandler(handler);
    }

    /** Internal errors logged since this was created, as text. */
    List<String> errors() {
        synchronized (errors) {
            List<String> result = new ArrayList<>();
            for (LogRecord r : errors) {
                result.add(r.getMessage() + (r.getThrown() != null ? ": " + r.getThrown() : ""));
            }
            return result;
        }
    }

    /** Live threads a server starts per connection (readers and reply writers). */
    static Set<Thread> connectionThreads() {
        Set<Thread> threads = new HashSet<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.isAlive() && (t.getName().startsWith("pcache-nbd-conn ")
                    || t.getName().startsWith("pcache-nbd-writer "))) {
                threads.add(t);
            }
        }
        return threads;
    }

    /**
     * Per-connection threads alive now that were not alive in {@code before}: those of the servers
     * a test started. Threads of an earlier test's server that are still ending count neither way.
     */
    static int connectionThreadsSince(Set<Thread> before) {
        Set<Thread> now = connectionThreads();
        now.removeAll(before);
        return now.size();
    }

    /** Heap in use after a full collection (a few tries, as System.gc() is only a hint). */
    static long heapAfterGc() {
        long best = Long.MAX_VALUE;
        for (int i = 0; i < 3; i++) {
            System.gc();
            best = Math.min(best, ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
        }
        return best;
    }

    /** Direct memory held by NIO buffers (BufferPool's pooled buffers, ChannelInput's buffer). */
    static long directMemory() {
        for (BufferPoolMXBean pool : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
            if (pool.getName().equals("direct")) {
                return pool.getMemoryUsed();
            }
        }
        return 0;
    }

    /** Waits (at most {@code seconds}) for {@code condition}; false if it never held. */
    static boolean eventually(int seconds, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(10);
        }
        return true;
    }

    @Override
    public void close() {
        SERVER_LOG.removeHandler(handler);
        SERVER_LOG.setLevel(savedLevel);
    }
}
