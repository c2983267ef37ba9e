package pcache.launcher;

/** The framework or the distribution is broken: a bundle, a service or a folder is missing. */
public class LaunchException extends Exception {
    private static final long serialVersionUID = 1L;

    public LaunchException(String message) {
        super(message);
    }

    public LaunchException(String message, Throwable cause) {
        super(message, cause);
    }
}
