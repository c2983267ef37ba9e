package pcache.engine.internal;

import java.util.List;
import java.util.stream.Collectors;

/**
 * Where in the engine a simulated power cut struck, named after the on-media step it interrupts.
 * Told from the stack of the thread whose store, flush or fence the crash struck at, so the engine
 * needs no test hooks: each site is the innermost engine method (class and method name) that
 * carries out that step.
 */
enum CrashSite {
    /** Client data copied into its cache segment (write or write-zeroes), before its key is logged. */
    DATA_COPY("data copy"),
    /** A read miss copying backing data into the cache (a clean key follows). */
    MISS_FILL("miss fill data copy"),
    /** A kset persisted by the request that filled it or asked for FUA (between data and its key). */
    KEY_APPEND("key append"),
    /** A kset closed by its timer or by a flush. */
    KSET_CLOSE("kset close"),
    /** A new key segment being taken and zeroed before the log moves into it. */
    KEY_SEGMENT_ALLOCATION("key-segment allocation"),
    /** The LAST kset that links the log to its new segment. */
    LAST_KSET("LAST kset and segment switch"),
    /** Write-back storing dirty_tail. */
    DIRTY_TAIL("dirty_tail update"),
    /** GC storing key_tail after a kset of keys. */
    KEY_TAIL("key_tail update"),
    /**
     * GC storing key_tail past a LAST kset (in both slots) before it releases that key segment; told
     * from {@link #KEY_TAIL} by the crash test, which sees a key_tail slot still pointing at the LAST kset.
     */
    KEY_TAIL_RELEASE("key_tail update releasing a key segment"),
    /** GC reclaiming a data segment: its generation bumped and persisted. */
    GC_GENERATION("GC generation bump"),
    /** Formatting the segment chain: segment_info (and generation) records. */
    SEGMENT_INFO("segment_info update"),
    /** cache_info stored while running (gc_percent changed). */
    CACHE_INFO("cache_info update"),
    /** pcache's extension record (backing identity, quarantine). */
    EXTENSION("extension record update"),
    /** Opening an existing cache: replaying the log and zeroing past its end. */
    REPLAY("replay"),
    /** cache_info stored with INIT_DONE at the end of a format or an open. */
    INIT_DONE("INIT_DONE"),
    /** The rest of a format: superblock, first key segment, initial tails. */
    FORMAT("format (superblock, tails, first key segment)"),
    /** No operation in flight: the cut came when the workload had ended. */
    AT_REST("at rest (after the workload)"),
    /** Anything not named above. */
    OTHER("other");

    private static final StackWalker WALKER = StackWalker.getInstance();

    final String label;

    CrashSite(String label) {
        this.label = label;
    }

    /** The site of the mutating operation the calling thread is making. */
    static CrashSite ofCurrentThread() {
        List<String> frames = WALKER.walk(s -> s.limit(48)
                .map(f -> simpleName(f.getClassName()) + "." + f.getMethodName()).collect(Collectors.toList()));
        return of(frames);
    }

    private static String simpleName(String className) {
        return className.substring(className.lastIndexOf('.') + 1);
    }

    /** Classifies frames "Class.method", innermost first. */
    static CrashSite of(List<String> frames) {
        boolean persist = false;
        for (int i = 0; i < frames.size(); i++) {
            String f = frames.get(i);
            switch (f) {
                case "FifoSegmentAllocator.reclaim":
                    return GC_GENERATION;
                case "FifoSegmentAllocator.format":
                    return SEGMENT_INFO;
                case "CacheMetadata.storeKeyTail":
                    return KEY_TAIL;
                case "CacheMetadata.storeDirtyTail":
                    return DIRTY_TAIL;
                case "CacheMetadata.storeExtension":
                    return EXTENSION;
                case "CacheMetadata.storeInfo":
                    return frames.subList(i, frames.size()).contains("CacheEngine.setGcPercent") ? CACHE_INFO
                            : INIT_DONE;
                case "CacheMetadata.formatTails":
                case "CacheMetadata.writeSuperblock":
                    return FORMAT;
                case "PmemKeyLog.persist":
                    persist = true;
                    break;
                case "PmemKeyLog.moveToNewSegment":
                    return persist ? LAST_KSET : KEY_SEGMENT_ALLOCATION;
                case "PmemKeyLog.append":
                    return KEY_APPEND;
                case "PmemKeyLog$KsetBuffer.timerFired":
                case "PmemKeyLog.flush":
                    return KSET_CLOSE;
                case "WritePath.writePiece":
                case "WritePath.writeZeroes":
                    return DATA_COPY;
                case "Replay.run":
                    return REPLAY;
                case "Recovery.format":
                    return FORMAT;
                default:
                    if (f.startsWith("MissFill.")) {
                        return MISS_FILL;
                    }
            }
        }
        return OTHER;
    }
}
