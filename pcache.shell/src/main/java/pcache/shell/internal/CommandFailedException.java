package pcache.shell.internal;

/**
 * A command that could not do what was asked, with a message saying why and what to do; the
 * shell prints it and {@code ./pcache -c} exits with status 1. Usage mistakes are
 * {@link IllegalArgumentException}s instead.
 */
final class CommandFailedException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    CommandFailedException(String message) {
        super(message);
    }

    CommandFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}
