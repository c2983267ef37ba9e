package pcache.api.spi;

import java.io.IOException;

import org.osgi.annotation.versioning.ConsumerType;

import pcache.api.CachePos;

/**
 * The key log of one cache (reference §3.5): in-memory kset buffers (one per parallel stream,
 * chosen by the key's 4 MiB slice) that are persisted as ksets appended at key_head, spilling
 * into new key segments through LAST ksets.
 *
 * <p>A buffer is persisted (closed) when it holds 128 keys, when its flush delay expires, when an
 * append asks for it (FUA), and on {@link #flush()}. A closed kset is acknowledged (a FUA append
 * or a flush returns) only once it and every kset before it in the log are durable and the
 * {@link KeyLogListener} has heard of them.
 */
@ConsumerType
public interface KeyLog extends AutoCloseable {

    /**
     * Decodes the kset at {@code position}, or returns null when there is none: bad magic, bad
     * CRC, a key count out of range, or a position outside the data area — the end of the log.
     * Does not verify data CRCs.
     */
    Kset read(CachePos position) throws IOException;

    /** Starts appending at {@code head} (after format, or at the end of the replayed log). */
    void start(CachePos head) throws IOException;

    /** Where the next kset will be written (dm-pcache's key_head). */
    CachePos head();

    /**
     * The end of the durable log: every kset before it is persisted. Readers of the log (write-back,
     * GC) stop here; ksets between it and {@link #head()} are still being written.
     */
    CachePos persistedHead();

    /**
     * Adds a key to the buffer of its slice's stream. The caller holds the key's slice lock (so log
     * order equals index order for every byte, reference §3.5). With {@code forceClose}, the
     * buffer is persisted before this returns.
     *
     * @throws KeyLoggedException (only with {@code forceClose}) when the key is in the log but
     *         waiting for the ksets before it failed: the caller keeps the key and fails only the
     *         request
     * @throws IOException when the key is not in the log (the caller takes it back)
     */
    void append(CacheKey key, boolean forceClose) throws IOException;

    /** Persists every buffer that holds keys; when it returns, every key appended before is durable. */
    void flush() throws IOException;

    /**
     * Persists every buffer like {@link #flush()} and places a barrier where the next kset will be
     * written: every key appended before this call lies in a kset before that position, every key
     * appended after it in a kset at or after it, and a client flush barrier
     * ({@link #flushBarrierAfter}) separates the two. {@code atBarrier} is told the position
     * before any kset can be logged there (the engine records a trim there, which write-back then
     * passes on to the backing device between the older writes and the newer).
     *
     * @return the position, or null when this log cannot place such a barrier (then
     *         {@code atBarrier} is not called; this default flushes and returns null)
     * @since 1.4
     */
    default CachePos flushToBarrier(java.util.function.Consumer<CachePos> atBarrier) throws IOException {
        flush();
        return null;
    }

    /** Keys appended but not yet persisted. */
    int pendingKeys();

    /**
     * Whether a client's flush or FUA write separates the kset at {@code position} from every kset
     * logged after it: a write acknowledged before that flush (or the FUA write itself) is in this
     * kset or an earlier one. When false, the writes of this kset and of the next have no order a
     * client could rely on, so write-back may write both before one backing flush. True when not
     * known, e.g. for ksets replayed from an earlier run (the format does not record flushes).
     *
     * @since 1.3
     */
    default boolean flushBarrierAfter(CachePos position) {
        return true;
    }

    /**
     * Write-back passed the kset at {@code position}: what {@link #flushBarrierAfter} knew of it can
     * be dropped (the position will hold another kset once GC reuses its segment).
     *
     * @since 1.3
     */
    default void writtenBack(CachePos position) {
    }

    /** Stops the flush timers. Does not flush: callers flush first. */
    @Override
    void close();
}
