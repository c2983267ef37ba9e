package pcache.api;

import java.io.IOException;

/** Base of every error pcache raises; the subclasses say which kind it is. */
public class PcacheException extends IOException {
    private static final long serialVersionUID = 1L;

    public PcacheException(String message) {
        super(message);
    }

    public PcacheException(String message, Throwable cause) {
        super(message, cause);
    }
}
