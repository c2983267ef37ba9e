package pcache.api.spi;

import java.io.IOException;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * A metadata record kept in two slots with the common header (crc, seq, version), updated so the
 * newest valid copy is never overwritten (reference §2.4 after the Dec-2025 fix): the newest slot
 * with a valid CRC is the current copy; an update increments seq, recomputes the CRC and writes
 * the <em>other</em> slot, then flushes and fences it. Not thread-safe: callers serialise updates
 * of one record.
 */
@ConsumerType
public interface ReplicatedRecord {

    /** Name of the structure, used in error messages (e.g. "cache_info"). */
    String structure();

    /** Device offset of slot 0. */
    long deviceOffset();

    /**
     * Loads the newest valid copy: the whole structure (header included), or null when neither
     * slot has a valid CRC. Remembers which slot it came from for the next {@link #store}.
     */
    byte[] load() throws IOException;

    /**
     * Persists {@code record} (the whole structure; its header is filled in here: seq advanced,
     * CRC computed) into the slot after the current one, then flushes and fences it.
     */
    void store(byte[] record) throws IOException;

    /**
     * Sets the in-memory state as if the current copy were in {@code slot} with sequence
     * {@code seq}, without touching the device. A new record starts as {@code reset(0, 0)}, so
     * its first store goes to slot 1 with seq 1 (what dm-pcache does for cache_info, segment_info
     * and generations); dm-pcache initialises key_tail and dirty_tail in slot 0, which is
     * {@code reset(1, 0)} followed by a store.
     */
    void reset(int slot, int seq);

    /** Slot index of the current copy. */
    int currentSlot();

    /** Sequence number of the current copy (8 bits, wrapping). */
    int currentSeq();
}
