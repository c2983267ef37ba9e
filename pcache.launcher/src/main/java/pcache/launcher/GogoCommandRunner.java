package pcache.launcher;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import org.apache.felix.gogo.runtime.CommandNotFoundException;
import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.apache.felix.service.command.Converter;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;

/**
 * Runs command lines through Gogo's {@link CommandProcessor} service, in a fresh session each,
 * and prints the result the way the interactive shell does.
 *
 * <p>The Gogo runtime runs on the launcher's class path and the system bundle exports its
 * packages (see {@link EmbeddedFramework}), so the processor is used typed: the service, the
 * shell bundles and this class share one copy of Gogo's API and runtime.
 *
 * <p>Declarative Services registers command components asynchronously after their bundles
 * start, so while the framework is young a "command not found" is retried, until the set of
 * command services has not changed for {@link #SETTLED}, and at most until {@link #READY_WINDOW}
 * after the start.
 */
public final class GogoCommandRunner implements CommandExecutor {

    /** How long after the framework start a missing command may still be on its way. */
    public static final Duration READY_WINDOW = Duration.ofSeconds(10);
    /** A missing command is given up once no command service came or went for this long. */
    static final Duration SETTLED = Duration.ofMillis(1500);

    private final BundleContext context;
    private final long readyDeadlineNanos;

    /**
     * @param context the system bundle's context
     * @param frameworkStartedNanos {@link System#nanoTime()} when the framework started
     */
    public GogoCommandRunner(BundleContext context, long frameworkStartedNanos) {
        this.context = context;
        this.readyDeadlineNanos = frameworkStartedNanos + READY_WINDOW.toNanos();
    }

    @Override
    public int execute(String commandLine, OutputStream outStream, OutputStream errStream) {
        PrintStream out = new PrintStream(new KeepOpen(outStream), true, StandardCharsets.UTF_8);
        PrintStream err = new PrintStream(new KeepOpen(errStream), true, StandardCharsets.UTF_8);
        try {
            return run(commandLine, out, err);
        } finally {
            out.flush();
            err.flush();
        }
    }

    private int run(String commandLine, PrintStream out, PrintStream err) {
        ServiceReference<CommandProcessor> ref = awaitCommandProcessor();
        CommandProcessor processor = ref == null ? null : context.getService(ref);
        if (processor == null) {
            err.println("pcache: no Gogo CommandProcessor service: is the framework stopping?");
            return 1;
        }
        try (CommandSession session = processor.createSession(InputStream.nullInputStream(), out, err)) {
            Object result = executeRetrying(session, commandLine);
            if (result != null) {
                out.println(session.format(result, Converter.INSPECT));
            }
            return 0;
        } catch (Exception | Error e) { // whatever the command threw, as the shell reports it
            err.println(e.getClass().getSimpleName() + ": " + e.getMessage());
            return 1;
        } finally {
            context.ungetService(ref);
        }
    }

    private Object executeRetrying(CommandSession session, String commandLine) throws Exception {
        String commands = commandServices();
        long lastChange = System.nanoTime();
        while (true) {
            try {
                return session.execute(commandLine);
            } catch (CommandNotFoundException e) {
                long now = System.nanoTime();
                String current = commandServices();
                if (!current.equals(commands)) {
                    commands = current;
                    lastChange = now;
                }
                // give up once the set of commands has been still for a while: nothing is coming
                boolean settled = now - lastChange > SETTLED.toNanos();
                if (settled || now > readyDeadlineNanos || !pause(50)) {
                    throw e;
                }
            }
        }
    }

    /** The ids of the registered command services, as a string to compare. */
    private String commandServices() {
        try {
            ServiceReference<?>[] refs = context.getServiceReferences((String) null, "(osgi.command.scope=*)");
            return refs == null ? "" : java.util.Arrays.stream(refs)
                    .map(r -> String.valueOf(r.getProperty(org.osgi.framework.Constants.SERVICE_ID)))
                    .sorted().collect(java.util.stream.Collectors.joining(","));
        } catch (org.osgi.framework.InvalidSyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private ServiceReference<CommandProcessor> awaitCommandProcessor() {
        while (true) {
            ServiceReference<CommandProcessor> ref = context.getServiceReference(CommandProcessor.class);
            if (ref != null || System.nanoTime() > readyDeadlineNanos || !pause(20)) {
                return ref;
            }
        }
    }

    private static boolean pause(long millis) {
        try {
            Thread.sleep(millis);
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Gogo closes the session's streams; the caller's (System.out) must stay open. */
    private static final class KeepOpen extends FilterOutputStream {
        KeepOpen(OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
        }

        @Override
        public void close() throws IOException {
            flush();
        }
    }
}
