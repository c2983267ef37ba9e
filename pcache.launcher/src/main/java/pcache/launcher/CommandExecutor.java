package pcache.launcher;

import java.io.OutputStream;

/** Runs one shell command line; the seam between the control socket and Gogo. */
@FunctionalInterface
public interface CommandExecutor {

    /**
     * Runs {@code commandLine}, writing its output to {@code out} and errors to {@code err}.
     *
     * @return the exit status: 0 on success, 1 if the command failed
     */
    int execute(String commandLine, OutputStream out, OutputStream err);
}
