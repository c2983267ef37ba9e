package pcache.api.spi;

import java.io.IOException;

import org.osgi.annotation.versioning.ConsumerType;

import pcache.api.CachePos;

/** Receives events of a {@link KeyLog}. */
@ConsumerType
public interface KeyLogListener {

    /**
     * A kset of {@code sizeBytes} was persisted at {@code position}. Called in log order, before
     * any {@link KeyLog} flush that waits for the kset returns, possibly while the log holds a
     * lock: return quickly and never call the log from here.
     */
    void ksetPersisted(CachePos position, int sizeBytes);

    /** A background (timer) flush failed; the keys stay buffered and are retried. */
    void flushFailed(IOException error);
}
