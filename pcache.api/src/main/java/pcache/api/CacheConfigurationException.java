package pcache.api;

/**
 * A cache cannot be opened as configured: a value is out of range, or the configuration
 * contradicts what the cache device records (data_crc, backing-device identity, sizes). The
 * message names the setting, the value and what is expected.
 */
public class CacheConfigurationException extends PcacheException {
    private static final long serialVersionUID = 1L;

    public CacheConfigurationException(String message) {
        super(message);
    }
}
