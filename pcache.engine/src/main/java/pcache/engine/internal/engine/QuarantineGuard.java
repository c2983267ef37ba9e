package pcache.engine.internal.engine;

import java.io.IOException;
import java.util.List;

import pcache.api.DataIntegrityException;
import pcache.api.format.PcacheLayout;
import pcache.engine.internal.media.CacheMetadata;
import pcache.engine.internal.media.ExtensionCodec.Range;

/**
 * The quarantine of one open cache as the request paths and write-back use it: reads of a
 * quarantined range fail, writes and trims lift it, and every change is persisted in pcache's
 * extension record before the call returns (so a restart keeps refusing the lost data).
 */
final class QuarantineGuard {

    private final String cacheName;
    private final CacheMetadata meta;
    private final Quarantine ranges;

    QuarantineGuard(String cacheName, CacheMetadata meta, List<Range> recorded) {
        this.cacheName = cacheName;
        this.meta = meta;
        this.ranges = new Quarantine(PcacheLayout.Extension.QUARANTINE_MAX, recorded);
    }

    /** Fails when {@code [offset, offset + length)} touches a quarantined range. */
    void check(long offset, long length) throws DataIntegrityException {
        if (ranges.isEmpty()) {
            return;
        }
        Range r = ranges.overlapping(offset, length);
        if (r != null) {
            throw new DataIntegrityException("cache " + cacheName + ": range [" + r.offset() + ", +" + r.length()
                    + ") is quarantined: its newest data failed its CRC and is lost; write or trim it to"
                    + " use it again", r.offset(), r.length());
        }
    }

    /** Whether {@code [offset, offset + length)} touches a quarantined range. */
    boolean touches(long offset, long length) {
        return !ranges.isEmpty() && ranges.overlapping(offset, length) != null;
    }

    /** Quarantines a range whose newest data was lost. */
    synchronized void add(long offset, long length) throws IOException { // one change stored at a time, last one last
        if (ranges.add(offset, length)) {
            meta.storeQuarantine(ranges.snapshot());
        }
    }

    /**
     * Lifts the quarantine from a range a write (or write-zeroes) just replaced, once the keys
     * that replace it are durable: lifted (and stored) before, a power cut would replay the
     * damaged extent, clean, with no quarantine left to refuse it, and its reads would silently
     * return the backing device's older version. Quarantined ranges are rare (media damage), so
     * the flush this costs is too.
     */
    void clearOnceLogged(long offset, long length, pcache.api.spi.KeyLog log) throws IOException {
        if (touches(offset, length)) {
            log.flush();
            clearStored(offset, length);
        }
    }

    /** Lifts the quarantine from a range that was just trimmed (or whose replacement is durable). */
    void clear(long offset, long length) throws IOException {
        if (!ranges.isEmpty()) {
            clearStored(offset, length);
        }
    }

    private synchronized void clearStored(long offset, long length) throws IOException {
        if (ranges.clear(offset, length)) {
            meta.storeQuarantine(ranges.snapshot());
        }
    }

    List<Range> snapshot() {
        return ranges.snapshot();
    }
}
