package pcache.backing.file.internal;

import pcache.api.PcacheException;

/**
 * A file backing device cannot be opened as configured. The message names the configuration
 * key, its value and what to do.
 */
public class BackingConfigurationException extends PcacheException {
    private static final long serialVersionUID = 1L;

    public BackingConfigurationException(String message) {
        super(message);
    }

    public BackingConfigurationException(String message, Throwable cause) {
        super(message, cause);
    }
}
