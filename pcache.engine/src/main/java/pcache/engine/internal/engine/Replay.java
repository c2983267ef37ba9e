package pcache.engine.internal.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;

import pcache.api.CachePos;
import pcache.api.CorruptMediaException;
import pcache.api.format.PcacheFormat;
import pcache.api.format.PcacheLayout;
import pcache.api.spi.CacheKey;
import pcache.api.spi.KeySlice;
import pcache.api.spi.Kset;
import pcache.api.spi.SegmentAllocator;
import pcache.engine.internal.media.KsetContinuation;

/**
 * Replays the key log of an existing cache from key_tail (reference §3.6): every key of a current
 * generation takes a reference on its segment and goes into the index (later ones win); stale
 * keys take none;
 * keys before dirty_tail are already on the backing device. Every key is validated before use
 * (dm-pcache indexes arrays with them unchecked), and a log that cannot be what pcache wrote
 * (a loop, a generation that went back, a log that breaks off before dirty_tail) is refused with
 * the structure and offset named.
 */
final class Replay {

    private final OpenCache cache;
    private final EngineSignals signals;
    private final SegmentAllocator segments;
    private long keys;
    private long stale;
    /** Per segment, the device offset of the first key of a current generation into it, or -1. */
    private final long[] firstKeyInto;

    Replay(OpenCache cache, EngineSignals signals) {
        this.cache = cache;
        this.signals = signals;
        this.segments = cache.segments();
        this.firstKeyInto = new long[segments.segmentCount()];
        Arrays.fill(firstKeyInto, -1);
    }

    /** Replays the log, starts it at its end and counts its dirty ksets as persisted. */
    void run() throws IOException {
        CachePos keyTail = cache.meta().keyTail();
        CachePos dirtyTail = cache.meta().dirtyTail();
        CachePos end = cache.meta().dirtyTailMayBeOlderCopy() ? logEndBefore(keyTail, dirtyTail) : null;
        if (end != null) {
            if (!zeroHeaderAt(end)) {
                // the log breaks at damage before the older copy: that copy may lie beyond the
                // break, ahead of ksets already written back; restarting at key_tail would write
                // those back again over newer data the backing device already holds
                throw new CorruptMediaException("dirty_tail", PcacheFormat.DIRTY_TAIL_OFF, "the newest copy is"
                        + " damaged, and the key log from key_tail " + keyTail + " breaks off at " + end + " (a kset"
                        + " that fails its magic or CRC check) before it reaches the older copy, " + dirtyTail
                        + ": the cache cannot tell what is written back, and writing back from key_tail could put"
                        + " older data over newer data on the backing device; pcache:fsck shows the damage");
            }
            // the newest copy was lost and the older one is behind key_tail (GC passed it after
            // the newest copy was stored): the newest lay at or after key_tail
            CacheEngine.LOG.log(System.Logger.Level.WARNING, "cache " + cache.name() + ": the newest copy of"
                    + " dirty_tail (device offset " + PcacheFormat.DIRTY_TAIL_OFF + ") is damaged and the older"
                    + " copy, " + dirtyTail + ", is behind key_tail " + keyTail + "; write-back restarts at key_tail"
                    + " (ksets already written back are written back again); pcache:fsck shows the damage");
            cache.meta().restartWritebackAtKeyTail();
            dirtyTail = keyTail;
        }
        CachePos pos = keyTail;
        segments.markUsed(pos.segment());
        boolean dirty = pos.equals(dirtyTail);
        long dirtyKsets = 0;
        BitSet keySegments = new BitSet(segments.segmentCount());
        keySegments.set(pos.segment());
        while (true) {
            if (pos.equals(dirtyTail)) {
                dirty = true;
            }
            Kset k = cache.keyLog().read(pos);
            if (k == null) {
                break;
            }
            if (dirty) {
                dirtyKsets++;
            }
            if (k.last()) {
                pos = followLink(k, pos, keySegments);
                continue;
            }
            replayKeys(k, dirty);
            pos = k.next();
        }
        checkEnd(pos, dirty, keyTail, dirtyTail);
        checkNoDataInTheLog(keySegments);
        signals.persistedKsets.set(dirtyKsets);
        signals.passedKsets.set(0);
        cache.keyLog().start(pos);
        CacheEngine.LOG.log(System.Logger.Level.INFO,
                "cache {0}: replayed {1} keys ({2} stale) from {3} to {4}, dirty from {5}",
                cache.name(), keys, stale, keyTail, pos, dirtyTail);
    }

    /**
     * Where the key log from {@code from} ends before it reaches {@code target} at a kset
     * boundary, or null when it reaches it (a loop ends it where the looping LAST kset is). Reads
     * the log once more; only used after damage to dirty_tail.
     */
    private CachePos logEndBefore(CachePos from, CachePos target) throws IOException {
        BitSet keySegments = new BitSet(segments.segmentCount());
        keySegments.set(from.segment());
        CachePos pos = from;
        while (!pos.equals(target)) {
            Kset k = cache.keyLog().read(pos);
            if (k == null || (k.last() && keySegments.get(k.nextSegment()))) {
                return pos;
            }
            if (k.last()) {
                keySegments.set(k.nextSegment());
            }
            pos = k.next();
        }
        return null;
    }

    /** Follows a LAST kset to the next key segment, refusing a link back onto the log. */
    private CachePos followLink(Kset k, CachePos pos, BitSet keySegments) throws CorruptMediaException {
        if (keySegments.get(k.nextSegment())) {
            throw new CorruptMediaException("kset", ksetOffset(pos), "the LAST kset at " + pos
                    + " links the key log back to cache segment " + k.nextSegment()
                    + ", which is already on it: the log would loop");
        }
        keySegments.set(k.nextSegment());
        CachePos next = k.next();
        segments.markUsed(next.segment());
        return next;
    }

    private void replayKeys(Kset k, boolean dirty) throws CorruptMediaException {
        for (int i = 0; i < k.keys().size(); i++) {
            CacheKey key = k.keys().get(i);
            checkKey(k, i, key);
            keys++;
            // generations are u64 on media (as in the kernel): compared unsigned, so a key of a
            // generation at or past 2^63 is one "newer than its segment" (refused), not stale
            int order = Long.compareUnsigned(key.generation(), segments.generation(key.segment()));
            if (order > 0) {
                throw generationWentBack(k, i, key);
            }
            if (order < 0) {
                // a stale key takes no reference (the kernel takes one for every key): its segment
                // was reclaimed since, and may hold the key log now (the kernel gives references
                // back before it stores key_tail, and its log may take the segment in between);
                // a reference would make GC reclaim that key segment under the log. GC gives back
                // the references of the keys that are not stale only (GarbageCollector).
                stale++;
                continue;
            }
            segments.markUsed(key.segment());
            segments.get(key.segment());
            if (firstKeyInto[key.segment()] < 0) {
                firstKeyInto[key.segment()] = keyOffset(k, i);
            }
            if (!dirty) {
                key.markClean();
            } else if (!key.isClean()) {
                cache.stats().dirtyBytes.add(key.length());
            }
            KeySlice slice = cache.index().slice(key.offset());
            slice.lock();
            try {
                slice.insert(key, cache.validity());
            } finally {
                slice.unlock();
            }
        }
    }

    /**
     * Checks where the log ended: it must have reached dirty_tail, and a damaged kset with valid
     * ones behind it is reported (it cannot be told from a kset torn by a power cut).
     */
    private void checkEnd(CachePos pos, boolean dirty, CachePos keyTail, CachePos dirtyTail) throws IOException {
        if (!dirty) {
            if (!zeroHeaderAt(pos)) {
                // dirty_tail only ever passes persisted ksets: a log that breaks off at a damaged
                // kset before reaching it lost that kset and everything after it
                throw new CorruptMediaException("kset", ksetOffset(pos), "the key log from key_tail " + keyTail
                        + " breaks off at " + pos + ", where the kset fails its magic or CRC check, before it"
                        + " reaches dirty_tail " + dirtyTail + ": the ksets after it cannot be found (the data they"
                        + " describe is not written back); pcache:fsck shows the damage");
            }
            throw new CorruptMediaException("dirty_tail", PcacheFormat.DIRTY_TAIL_OFF, "points to " + dirtyTail
                    + ", which is not on the key log from key_tail " + keyTail + " to its end " + pos
                    + "; the cache cannot tell what is written back");
        }
        if (zeroHeaderAt(pos)) {
            return;
        }
        int following = validKsetsAfter(pos);
        if (following > 0) {
            // dm-pcache's ksets carry no sequence number: a kset torn by a power cut while later
            // ones were being written (never acknowledged) looks the same as one damaged later
            CacheEngine.LOG.log(System.Logger.Level.ERROR, "cache " + cache.name() + ": the key log ends at " + pos
                    + " (device offset " + ksetOffset(pos) + "), where the kset fails its magic or CRC check,"
                    + " but " + following + " valid kset(s) follow it. After a power cut this is a kset torn"
                    + " while later ones were written (nothing there was acknowledged); otherwise the cache"
                    + " device is damaged there and the writes recorded from there on are lost. The log"
                    + " continues from " + pos + "; keep a copy of the device before writing to it if the"
                    + " cache was not stopped by a crash");
        }
    }

    private long ksetOffset(CachePos pos) {
        return segments.dataOffset(pos.segment()) + pos.offset();
    }

    /**
     * A key newer than its segment: a segment's generation is persisted before the segment is
     * reused (reference §7.2), so the record lost its newest copy and went back. Opening anyway
     * would let the key outlive the segment's next reclaim and read its next occupant's data.
     */
    private CorruptMediaException generationWentBack(Kset k, int i, CacheKey key) {
        int seg = key.segment();
        return new CorruptMediaException("segment generation",
                PcacheFormat.segmentOffset(segments.physicalId(seg)) + PcacheFormat.SEG_GEN_OFF, "cache segment " + seg
                        + " records generation " + Long.toUnsignedString(segments.generation(seg)) + ", but key " + i
                        + " of the kset at " + k.position() + " was written under generation "
                        + Long.toUnsignedString(key.generation()) + ": the generation"
                        + " record went back (its newest copy is damaged), and stale keys could come back;"
                        + " pcache:fsck shows the damage");
    }

    /**
     * How many valid ksets follow the damaged kset at {@code pos} ({@link KsetContinuation}); 0
     * when there is none. Counts at most 1,000.
     */
    private int validKsetsAfter(CachePos pos) throws IOException {
        byte[] header = new byte[PcacheFormat.KSET_HEADER_SIZE];
        cache.region().read(ksetOffset(pos), header, 0, header.length);
        int keyNum = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN).getInt(PcacheLayout.KsetHeader.KEY_NUM);
        List<CachePos> candidates = KsetContinuation.candidates(pos, keyNum, s -> s >= 0 && s < segments.segmentCount());
        for (CachePos c : candidates) {
            int count = 0;
            CachePos p = c;
            try {
                while (count < 1000) {
                    Kset k = cache.keyLog().read(p);
                    if (k == null) {
                        break;
                    }
                    count++;
                    p = k.next();
                }
            } catch (IOException | RuntimeException e) {
                // a bogus link: what was counted so far stands
            }
            if (count > 0) {
                return count;
            }
        }
        return 0;
    }

    /** Whether the log ends at {@code pos} cleanly: zeroes (or no room for a header) there. */
    private boolean zeroHeaderAt(CachePos pos) throws IOException {
        if ((long) pos.offset() + PcacheFormat.KSET_HEADER_SIZE > PcacheFormat.SEG_DATA_SIZE) {
            return true;
        }
        byte[] header = new byte[PcacheFormat.KSET_HEADER_SIZE];
        cache.region().read(ksetOffset(pos), header, 0, header.length);
        return Arrays.mismatch(header, new byte[header.length]) < 0;
    }

    /**
     * A key of the current generation that points into a segment holding the key log is damage:
     * a segment is reclaimed (its generation raised) before it can hold the log, so no valid key
     * can point into it. Its reference would make GC reclaim the segment under the log.
     */
    private void checkNoDataInTheLog(BitSet keySegments) throws CorruptMediaException {
        for (int s = keySegments.nextSetBit(0); s >= 0; s = keySegments.nextSetBit(s + 1)) {
            if (firstKeyInto[s] >= 0) {
                throw new CorruptMediaException("key", firstKeyInto[s], "the key at device offset " + firstKeyInto[s]
                        + " points into cache segment " + s + " under its current generation "
                        + Long.toUnsignedString(segments.generation(s)) + ", but that segment holds the key log:"
                        + " the key or the log is damaged; pcache:fsck shows the damage");
            }
        }
    }

    private long keyOffset(Kset k, int i) {
        return ksetOffset(k.position()) + PcacheFormat.KSET_HEADER_SIZE + (long) i * PcacheFormat.KEY_SIZE;
    }

    /** Keys are validated before use: dm-pcache indexes arrays with them unchecked (§3.6). */
    private void checkKey(Kset k, int i, CacheKey key) throws CorruptMediaException {
        String problem = null;
        long logicalSize = cache.logicalSize();
        if (key.length() <= 0 || key.length() > PcacheFormat.SUBTREE_SIZE) {
            problem = "has length " + key.length();
        } else if (key.offset() < 0 || key.offset() > logicalSize - key.length()) { // end() may overflow
            problem = "covers [" + key.offset() + ", " + key.end() + ") outside the logical device of "
                    + logicalSize + " bytes";
        } else if ((key.offset() >>> PcacheFormat.SUBTREE_SHIFT) != ((key.end() - 1) >>> PcacheFormat.SUBTREE_SHIFT)) {
            problem = "crosses a 4 MiB boundary";
        } else if (key.segment() < 0 || key.segment() >= segments.segmentCount()) {
            problem = "points to cache segment " + key.segment() + ", outside the cache's "
                    + segments.segmentCount() + " segments";
        } else if (key.segmentOffset() < 0 || (long) key.segmentOffset() + key.length() > PcacheFormat.SEG_DATA_SIZE) {
            problem = "points to [" + key.segmentOffset() + ", +" + key.length() + ") outside a segment's data area";
        } else if (key.isEmpty()) {
            problem = "is marked EMPTY (placeholders never reach media)";
        } else {
            problem = PcacheFormat.misalignment(key.offset(), key.length(), key.segmentOffset());
        }
        if (problem != null) {
            throw new CorruptMediaException("key", keyOffset(k, i), "key " + i + " of the kset at " + k.position()
                    + " " + problem);
        }
    }
}
