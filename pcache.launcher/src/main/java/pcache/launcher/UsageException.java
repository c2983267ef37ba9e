package pcache.launcher;

/** The launcher's command line is wrong; the message says which argument and what was expected. */
public class UsageException extends Exception {
    private static final long serialVersionUID = 1L;

    public UsageException(String message) {
        super(message);
    }
}
