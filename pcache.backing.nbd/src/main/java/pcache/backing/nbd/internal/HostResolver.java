package pcache.backing.nbd.internal;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;

/**
 * Resolves a server's host name within a deadline. The JDK's resolver blocks for as long as the
 * name servers take and cannot be interrupted, so a name is looked up on a thread of its own while
 * the connecting thread waits at most until its deadline; a lookup still running is shared by the
 * connects that ask for the same name meanwhile (a reconnect loop against a dead name server makes
 * one thread, not one per attempt). Address literals are parsed at once, without a thread.
 */
final class HostResolver {

    /** The system's resolver ({@code /etc/hosts}, DNS), every address of a name. */
    static final HostResolver SYSTEM = new HostResolver(InetAddress::getAllByName);

    /** Looks a name up; may block. */
    @FunctionalInterface
    interface Lookup {
        InetAddress[] addresses(String host) throws UnknownHostException;
    }

    /** The name did not resolve within the deadline. */
    static final class ResolveTimeoutException extends Exception {
        private static final long serialVersionUID = 1L;

        ResolveTimeoutException(String host) {
            super(host);
        }
    }

    private static final Pattern IPV4_LITERAL = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");

    private final Lookup lookup;
    private final Map<String, CompletableFuture<List<InetAddress>>> running = new ConcurrentHashMap<>();

    HostResolver(Lookup lookup) {
        this.lookup = lookup;
    }

    /**
     * Every address of {@code host}, in the resolver's order.
     *
     * @param host a name, an IPv4 literal or an IPv6 literal without brackets
     * @param deadlineNanos the {@link System#nanoTime()} by which to give up
     * @throws UnknownHostException the name does not resolve
     * @throws ResolveTimeoutException the lookup did not end by the deadline (it goes on, and a
     *         later call for the same name waits for it)
     * @throws InterruptedException the waiting thread was interrupted
     */
    List<InetAddress> resolve(String host, long deadlineNanos)
            throws UnknownHostException, ResolveTimeoutException, InterruptedException {
        if (host.indexOf(':') >= 0 || IPV4_LITERAL.matcher(host).matches()) {
            return List.of(lookup.addresses(host));
        }
        CompletableFuture<List<InetAddress>> answer = new CompletableFuture<>();
        CompletableFuture<List<InetAddress>> earlier = running.putIfAbsent(host, answer);
        if (earlier == null) {
            start(host, answer); // in the map first, so that its end takes it out
        } else {
            answer = earlier;
        }
        try {
            return answer.get(Math.max(0, deadlineNanos - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new ResolveTimeoutException(host);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof UnknownHostException unknown) {
                throw unknown;
            }
            UnknownHostException failed = new UnknownHostException(host + ": " + e.getCause());
            failed.initCause(e.getCause());
            throw failed;
        }
    }

    private void start(String host, CompletableFuture<List<InetAddress>> answer) {
        Thread thread = new Thread(() -> {
            try {
                InetAddress[] addresses = lookup.addresses(host);
                if (addresses.length == 0) {
                    throw new UnknownHostException(host + ": no addresses");
                }
                answer.complete(List.of(addresses));
            } catch (Throwable e) {
                answer.completeExceptionally(e);
            } finally {
                running.remove(host, answer);
            }
        }, "pcache-nbd-resolve " + host);
        thread.setDaemon(true);
        try {
            thread.start();
        } catch (RuntimeException | Error e) { // no native thread to be had: this lookup ends here
            running.remove(host, answer);
            answer.completeExceptionally(e);
        }
    }
}
