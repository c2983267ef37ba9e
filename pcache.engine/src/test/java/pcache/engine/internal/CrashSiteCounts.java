package pcache.engine.internal;

import java.util.concurrent.atomic.AtomicIntegerArray;

/** Crash points per {@link CrashSite} and phase of a trial, over a run (thread-safe), and their table. */
final class CrashSiteCounts {

    /** The phase of a trial a crash struck in. */
    enum Phase {
        FORMAT("format"), WORKLOAD("workload"), RECOVERY("recovery");

        final String label;

        Phase(String label) {
            this.label = label;
        }
    }

    private final AtomicIntegerArray sites = new AtomicIntegerArray(Phase.values().length * CrashSite.values().length);

    void crashAt(Phase phase, CrashSite site) {
        sites.incrementAndGet(phase.ordinal() * CrashSite.values().length + site.ordinal());
    }

    int count(Phase phase, CrashSite site) {
        return sites.get(phase.ordinal() * CrashSite.values().length + site.ordinal());
    }

    int count(CrashSite site) {
        int n = 0;
        for (Phase p : Phase.values()) {
            n += count(p, site);
        }
        return n;
    }

    int crashPoints() {
        int n = 0;
        for (CrashSite s : CrashSite.values()) {
            n += count(s);
        }
        return n;
    }

    /** The table of crash points per site and phase (markdown, as docs/RELIABILITY.md shows it). */
    String table() {
        StringBuilder b = new StringBuilder(
                "| site | format | workload | recovery | total |\n|---|---:|---:|---:|---:|\n");
        for (CrashSite s : CrashSite.values()) {
            b.append("| ").append(s.label);
            for (Phase p : Phase.values()) {
                b.append(" | ").append(count(p, s));
            }
            b.append(" | ").append(count(s)).append(" |\n");
        }
        b.append("| all | ");
        for (Phase p : Phase.values()) {
            int n = 0;
            for (CrashSite s : CrashSite.values()) {
                n += count(p, s);
            }
            b.append(n).append(" | ");
        }
        return b.append(crashPoints()).append(" |").toString();
    }
}
