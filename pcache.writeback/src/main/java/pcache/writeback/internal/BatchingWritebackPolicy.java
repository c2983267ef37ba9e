package pcache.writeback.internal;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

import pcache.api.CachePos;
import pcache.api.config.TypedProperties;
import pcache.api.format.PcacheFormat;
import pcache.api.spi.KeyIndex;
import pcache.api.spi.Kset;
import pcache.api.spi.WritebackContext;
import pcache.api.spi.WritebackOutcome;
import pcache.api.spi.WritebackPolicy;
import pcache.io.log.Log;

/**
 * Write-back in batches: many ksets at once, overlaps resolved across the whole batch (a version
 * overwritten within the batch is never written), adjacent extents coalesced into one backing
 * write, one backing flush per batch, started by watermarks and paced by a rate limit.
 *
 * <h2>When it writes</h2>
 * Write-back starts when dirty data reaches the high watermark (percent of the cache's data
 * capacity) and goes on until it falls to the low watermark; a drain ignores watermarks and the
 * rate limit. While writers wait for cache space, it writes back whatever the watermarks (GC can
 * free only what is written back), still paced by the rate limit. Below the watermarks, data is
 * written once it is older than {@code max_age_ms},
 * measured from when the policy saw it: when the cache turns dirty the policy notes the time and
 * where the durable log ends, and once {@code max_age_ms} has passed it writes back everything
 * before that place, batch after batch, whatever the watermarks; when dirty_tail reaches the place
 * it notes the time and the end of the log again. So nothing stays dirty forever (at most about
 * twice {@code max_age_ms} below the watermarks), and a writer that keeps the cache a little dirty
 * gets one round of batches per {@code max_age_ms}, not a backing flush per kset.
 *
 * <h2>Crash consistency of the backing device — the difference from "ordered"</h2>
 * The ordered policy flushes the backing device at every client flush, so the backing device alone
 * is crash-consistent at every client flush: it always holds a state the client could have seen
 * after a crash (everything before some flush, and any mix of what came after it). This
 * policy reorders writes inside a batch (by offset) and skips overwritten versions, so while a
 * batch is in progress the backing device may hold a mix of older and newer data; it is
 * consistent only at batch boundaries (after each flush). The cache itself loses nothing either
 * way: dirty_tail moves past the batch only after the flush, so after a crash the whole batch is
 * written again. The difference matters only if the backing device is used without the cache
 * (the cache device lost, or the backing device snapshotted mid-batch).
 */
@Component(service = WritebackPolicy.class, configurationPid = BatchingWritebackPolicy.PID,
        property = WritebackPolicy.NAME + "=" + BatchingWritebackPolicy.NAME_VALUE)
@Designate(ocd = BatchingWritebackPolicy.Config.class)
public final class BatchingWritebackPolicy implements WritebackPolicy {

    static final String NAME_VALUE = "batching";
    static final String PID = "pcache.writeback.batching";

    @ObjectClassDefinition(name = "pcache batching write-back policy",
            description = "Write-back in batches with watermarks, coalescing and a rate limit.")
    @interface Config {
        @AttributeDefinition(description = "Start writing back when dirty data reaches this percentage of the"
                + " cache's capacity.", min = "0", max = "100")
        int high__watermark__percent() default 50;

        @AttributeDefinition(description = "Stop when dirty data falls to this percentage.", min = "0", max = "100")
        int low__watermark__percent() default 40;

        @AttributeDefinition(description = "Write dirty data that waited this long even below the high watermark.")
        long max__age__ms() default 30_000;

        @AttributeDefinition(description = "Most dirty bytes written per batch (one backing flush per batch).")
        long batch__bytes() default 64L << 20;

        @AttributeDefinition(description = "Most write-back bandwidth in MiB/s; 0 means unlimited. Drains ignore it.")
        long rate__limit__mib__per__second() default 0;
    }

    /** Settings of one policy instance. */
    public record Settings(int highWatermarkPercent, int lowWatermarkPercent, long maxAgeMillis, long batchBytes,
            long rateLimitBytesPerSecond) {

        static Settings of(Config c) {
            int high = Math.max(0, Math.min(100, c.high__watermark__percent()));
            int low = Math.max(0, Math.min(high, c.low__watermark__percent()));
            return new Settings(high, low, Math.max(0, c.max__age__ms()), Math.max(PcacheFormat.KSET_MAX_SIZE,
                    c.batch__bytes()), Math.max(0, c.rate__limit__mib__per__second()) << 20);
        }
    }

    /** What the policy remembers of one cache between steps. */
    private static final class CacheState {
        boolean active;
        /** When the policy noted {@link #ageMark}, or -1 while the cache is clean. */
        long dirtySinceNanos = -1;
        /** Where the durable log ended at {@link #dirtySinceNanos}: what lies before it is that old. */
        CachePos ageMark;
        /** dirty_tail as this policy last left it: another one moved it when it differs. */
        CachePos lastTail;
        long pacedUntilNanos;

        void noteAge(WritebackContext context, long now) {
            dirtySinceNanos = now;
            ageMark = context.keyHead();
        }

        void forgetAge() {
            dirtySinceNanos = -1;
            ageMark = null;
        }
    }

    private static final System.Logger LOG = Log.of(BatchingWritebackPolicy.class);

    private volatile Settings settings = new Settings(50, 40, 30_000, 64L << 20, 0);
    private final Map<WritebackContext, CacheState> states = new WeakHashMap<>();

    public BatchingWritebackPolicy() {
    }

    public BatchingWritebackPolicy(Settings settings) {
        this.settings = settings;
    }

    @Activate
    @Modified
    void configure(Config config, Map<String, Object> properties) {
        // a string value SCR cannot read as a number would fail the accessor without naming its key
        List<String> problems = TypedProperties.problems(Config.class, properties);
        if (!problems.isEmpty()) {
            LOG.log(System.Logger.Level.ERROR, "write-back policy " + NAME_VALUE + ": configuration refused ("
                    + String.join("; ", problems) + "); it keeps its settings: " + settings);
            return;
        }
        settings = Settings.of(config);
    }

    @Override
    public String name() {
        return NAME_VALUE;
    }

    private synchronized CacheState state(WritebackContext context) {
        return states.computeIfAbsent(context, c -> new CacheState());
    }

    @Override
    public WritebackOutcome step(WritebackContext context) throws IOException, InterruptedException {
        Settings s = settings;
        CacheState st = state(context);
        long now = System.nanoTime();
        long dirty = context.dirtyBytes();
        boolean draining = context.draining();
        CachePos tail = context.dirtyTail();
        if (st.lastTail != null && !tail.equals(st.lastTail)) {
            // another policy wrote back meanwhile: what this one noted may lie behind dirty_tail
            st.forgetAge();
        }
        st.lastTail = tail;
        if (st.ageMark != null && tail.equals(st.ageMark)) {
            // what was noted is written back (or its kset was still open then): note again, also
            // in a drain, so that the mark never falls behind dirty_tail
            st.noteAge(context, now);
        }
        if (dirty <= 0 && !draining) {
            st.active = false;
            st.forgetAge();
            if (context.readKset(tail) == null) {
                return WritebackOutcome.IDLE;
            }
            // only clean ksets (read-miss fills) to pass: cheap, do it now
        } else if (!draining) {
            if (st.dirtySinceNanos < 0) {
                st.noteAge(context, now); // newly dirty
            }
            long capacity = Math.max(1, context.capacityBytes());
            int dirtyPercent = (int) Math.min(100, dirty * 100 / Math.max(1, capacity));
            if (dirtyPercent >= s.highWatermarkPercent()) {
                st.active = true;
            } else if (dirtyPercent <= s.lowWatermarkPercent()) {
                st.active = false;
            }
            boolean old = (now - st.dirtySinceNanos) / 1_000_000L >= s.maxAgeMillis();
            // writers waiting for space wait for write-back whatever the watermarks: below them,
            // they waited for the age (a cache full of read-miss fills behind a little dirty data)
            if (!st.active && !old && !context.spaceWanted()) {
                return WritebackOutcome.DEFERRED;
            }
            if (s.rateLimitBytesPerSecond() > 0 && now < st.pacedUntilNanos) {
                return WritebackOutcome.DEFERRED;
            }
        }
        List<Kset> batch = new ArrayList<>();
        KeyIndex scratch = context.scratchIndex();
        long batchDirty = 0;
        long batchKeys = 0;
        var position = tail;
        // bounded by keys too, clean ones included: read-miss fills would otherwise all be read
        while (batchDirty < s.batchBytes() && batchKeys < OrderedWritebackPolicy.MAX_GROUP_KEYS) {
            if (!batch.isEmpty() && position.equals(st.ageMark)) {
                break; // end the batch at the age mark, so that dirty_tail lands on it
            }
            Kset k = batch.isEmpty() ? context.readKset(position) : DirtyRuns.readAfter(context, position);
            if (k == null) {
                break;
            }
            batch.add(k);
            DirtyRuns.resolve(scratch, k);
            batchDirty += k.dirtyBytes();
            batchKeys += k.keys().size();
            position = k.next();
        }
        if (batch.isEmpty()) {
            return WritebackOutcome.IDLE;
        }
        long written = DirtyRuns.write(context, scratch);
        if (written > 0) {
            context.flushBacking();
        }
        context.advanceDirtyTail(batch);
        st.lastTail = context.dirtyTail();
        if (context.dirtyBytes() <= 0) {
            st.forgetAge();
        } // landed on the mark: the next step, which follows at once, notes it again
        if (!draining && s.rateLimitBytesPerSecond() > 0) {
            st.pacedUntilNanos = System.nanoTime() + written * 1_000_000_000L / s.rateLimitBytesPerSecond();
        }
        return WritebackOutcome.PROGRESS;
    }
}
