package pcache.engine.internal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import pcache.api.format.PcacheFormat;
import pcache.api.format.PcacheLayout;

/**
 * Where an armed crash on a {@link SimulatedPmem} is aimed — the n-th mutating operation, or the
 * n-th at one {@link CrashSite} — and where it struck: the site, and who was doing what in which
 * kind of operation (a client thread names its request with {@link #doing}; the engine's threads
 * are known by their names). The device calls it in the thread whose operation the crash strikes,
 * before that operation takes effect.
 */
final class CrashAim implements SimulatedPmem.CrashPoints {

    final CrashSite target;
    private final SimulatedPmem pmem;
    private final int segments;
    private final ThreadLocal<String> doing = new ThreadLocal<>();
    volatile CrashSite struck = CrashSite.AT_REST;
    private volatile String struckBy;

    /** Aimed at {@code target}, or at any operation when it is null, on a device of {@code segments} segments. */
    CrashAim(CrashSite target, SimulatedPmem pmem, int segments) {
        this.target = target;
        this.pmem = pmem;
        this.segments = segments;
    }

    /** What the calling client thread does from now on (a label for {@link #struckBy}). */
    void doing(String what) {
        doing.set(what);
    }

    /** Who was doing what in the operation the crash struck ("client write: store"); null until it has struck. */
    String struckBy() {
        return struckBy;
    }

    @Override
    public boolean counts() {
        if (target == null) {
            return true;
        }
        CrashSite s = CrashSite.ofCurrentThread();
        if (target == CrashSite.KEY_TAIL_RELEASE) {
            return s == CrashSite.KEY_TAIL && keyTailAtLast();
        }
        return s == target;
    }

    @Override
    public void strikes(SimulatedPmem.Operation op) {
        CrashSite s = target != null ? target : CrashSite.ofCurrentThread();
        struck = s == CrashSite.KEY_TAIL && keyTailAtLast() ? CrashSite.KEY_TAIL_RELEASE : s;
        struckBy = who() + ": " + op.label;
    }

    private String who() {
        String d = doing.get();
        if (d != null) {
            return d;
        }
        String name = Thread.currentThread().getName();
        if (name.endsWith("-writeback")) {
            return "write-back thread";
        }
        if (name.endsWith("-gc")) {
            return "GC thread";
        }
        if (name.endsWith("-timer")) {
            return "timer thread (delayed kset flush)";
        }
        return "thread " + name;
    }

    /**
     * Whether a key_tail slot points at a LAST kset: then GC is moving key_tail off a key segment
     * it releases next. Read in the thread the crash strikes, before its operation takes effect.
     */
    private boolean keyTailAtLast() {
        try {
            for (int slot = 0; slot < PcacheFormat.META_SLOTS; slot++) {
                ByteBuffer pos = ByteBuffer.allocate(PcacheLayout.CachePos.SIZE).order(ByteOrder.LITTLE_ENDIAN);
                pmem.read(PcacheFormat.KEY_TAIL_OFF + (long) slot * PcacheLayout.CachePos.SIZE, pos);
                int seg = pos.getInt(PcacheLayout.CachePos.SEG);
                int off = pos.getInt(PcacheLayout.CachePos.OFF);
                if (seg < 0 || seg >= segments || off < 0
                        || off > PcacheFormat.SEG_DATA_SIZE - PcacheFormat.KSET_HEADER_SIZE) {
                    continue;
                }
                // the format chains physical segments 0..n-1 in order: cache segment id = physical id
                ByteBuffer header = ByteBuffer.allocate(PcacheFormat.KSET_HEADER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
                pmem.read(PcacheFormat.segmentOffset(seg) + PcacheFormat.SEG_DATA_OFF + off, header);
                if (header.getLong(PcacheLayout.KsetHeader.MAGIC) == PcacheLayout.KsetHeader.MAGIC_VALUE
                        && (header.getLong(PcacheLayout.KsetHeader.FLAGS) & PcacheLayout.KsetHeader.FLAG_LAST) != 0) {
                    return true;
                }
            }
            return false;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
