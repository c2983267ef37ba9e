package pcache.launcher;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;

/**
 * Runs command lines through Gogo's {@code CommandProcessor} service, in a fresh session each,
 * and prints the result the way the interactive shell does.
 *
 * <p>This is the one place the launcher calls a framework service reflectively, through the
 * interfaces loaded from the bundle that registers it. Unlike ConfigAdmin's, Gogo's API package
 * cannot be exported by the system bundle from a copy on the launcher's class path: it is not a
 * pure API package. {@code org.apache.felix.service.command.Process.Utils.current()} (which
 * {@code Job.Utils.current()}, and so the runtime's {@code CommandSessionImpl}, calls) reads
 * the current pipe from the runtime's implementation class {@code org.apache.felix.gogo.runtime.Pipe};
 * a system-bundle copy would resolve that class from the launcher's class path, a second copy whose
 * thread-local the runtime bundle never sets, so jobs would lose track of their current process.
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

    private static final String COMMAND_PROCESSOR = "org.apache.felix.service.command.CommandProcessor";
    private static final String COMMAND_SESSION = "org.apache.felix.service.command.CommandSession";
    private static final String COMMAND_NOT_FOUND = "CommandNotFoundException";
    /** Converter.INSPECT: the rendering the interactive shell uses for results. */
    private static final int INSPECT = 0;

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
        ServiceReference<?> ref = awaitCommandProcessor();
        if (ref == null) {
            err.println("pcache: no Gogo CommandProcessor service: is org.apache.felix.gogo.runtime in bundles/?");
            return 1;
        }
        Object processor = context.getService(ref);
        try {
            Class<?> processorType = ref.getBundle().loadClass(COMMAND_PROCESSOR);
            Class<?> sessionType = ref.getBundle().loadClass(COMMAND_SESSION);
            Method createSession = processorType.getMethod("createSession", InputStream.class,
                    OutputStream.class, OutputStream.class);
            Method execute = sessionType.getMethod("execute", CharSequence.class);
            Method format = sessionType.getMethod("format", Object.class, int.class);
            Method close = sessionType.getMethod("close");
            Object session = createSession.invoke(processor, InputStream.nullInputStream(), out, err);
            try {
                Object result = executeRetrying(execute, session, commandLine);
                if (result != null) {
                    out.println(format.invoke(session, result, INSPECT));
                }
                return 0;
            } catch (InvocationTargetException e) {
                Throwable cause = e.getCause();
                err.println(cause.getClass().getSimpleName() + ": " + cause.getMessage());
                return 1;
            } finally {
                close.invoke(session);
            }
        } catch (ReflectiveOperationException e) {
            err.println("pcache: cannot use the Gogo CommandProcessor: " + e);
            return 1;
        } finally {
            context.ungetService(ref);
        }
    }

    private Object executeRetrying(Method execute, Object session, String commandLine)
            throws InvocationTargetException, IllegalAccessException {
        String commands = commandServices();
        long lastChange = System.nanoTime();
        while (true) {
            try {
                return execute.invoke(session, commandLine);
            } catch (InvocationTargetException e) {
                boolean notFound = e.getCause() != null
                        && e.getCause().getClass().getSimpleName().equals(COMMAND_NOT_FOUND);
                long now = System.nanoTime();
                String current = commandServices();
                if (!current.equals(commands)) {
                    commands = current;
                    lastChange = now;
                }
                // give up once the set of commands has been still for a while: nothing is coming
                boolean settled = now - lastChange > SETTLED.toNanos();
                if (!notFound || settled || now > readyDeadlineNanos || !pause(50)) {
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

    private ServiceReference<?> awaitCommandProcessor() {
        while (true) {
            ServiceReference<?> ref = context.getServiceReference(COMMAND_PROCESSOR);
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
