package pcache.shell.internal;

import java.io.PrintStream;

import pcache.api.CacheDevice;

/**
 * A text progress bar for {@code drain}: {@code [####......]} drawn by appending marks as
 * write-back advances, so it reads well on a terminal, in a log and through the control socket
 * alike (no cursor movement). It never goes back when new writes make the cache dirtier.
 */
final class ProgressBar implements CacheDevice.DrainProgress {

    static final int WIDTH = 40;

    private final PrintStream out;
    private boolean started;
    private int drawn;
    private long initial = -1;

    ProgressBar(PrintStream out) {
        this.out = out;
    }

    @Override
    public synchronized void progress(long remainingDirtyBytes, long initialDirtyBytes) {
        if (!started) {
            started = true;
            initial = initialDirtyBytes;
            out.print(initialDirtyBytes == 0 ? "nothing dirty " : Sizes.human(initialDirtyBytes) + " to write back ");
            out.print('[');
        }
        long done = initial <= 0 ? 0 : Math.max(0, initial - remainingDirtyBytes);
        int marks = initial <= 0 ? 0 : (int) Math.min(WIDTH, done * WIDTH / initial);
        draw(marks);
    }

    /** Completes the bar (the drain succeeded). */
    synchronized void finish() {
        if (!started) {
            progress(0, 0);
        }
        draw(WIDTH);
        out.println("] 100%");
        out.flush();
    }

    /** Ends the bar where it is (the drain failed). */
    synchronized void abort() {
        if (started) {
            out.println(" ".repeat(WIDTH - drawn) + "] stopped");
            out.flush();
        }
    }

    private void draw(int marks) {
        if (marks > drawn) {
            out.print("#".repeat(marks - drawn));
            drawn = marks;
            out.flush();
        }
    }
}
