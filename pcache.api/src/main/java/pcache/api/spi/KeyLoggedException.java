package pcache.api.spi;

import java.io.IOException;

/**
 * {@link KeyLog#append} failed after the key had left the caller's hands: its kset was sealed and
 * written, so the key is in the log and will be replayed, written back and released with it. The
 * caller keeps the key (in its index, with its segment reference) and only fails the request.
 * Thrown when waiting for the durability of the ksets before it fails (an interrupt, another
 * kset's failure).
 *
 * @since 1.7
 */
public class KeyLoggedException extends IOException {
    private static final long serialVersionUID = 1L;

    public KeyLoggedException(String message, Throwable cause) {
        super(message, cause);
    }
}
