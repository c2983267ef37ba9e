package pcache.engine.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import pcache.api.spi.BackingDevice;
import pcache.api.spi.ForwardingBackingDevice;

/**
 * A backing device with a hook outside the device's own lock: {@link #beforeWrite} runs before
 * each write reaches it, so a test can hold writes on their way ({@link #holdWrites}).
 */
class HeldWrites extends ForwardingBackingDevice {
    volatile Runnable beforeWrite;
    /** Fails the next trim (before it reaches the device), once. */
    final java.util.concurrent.atomic.AtomicBoolean failNextTrim = new java.util.concurrent.atomic.AtomicBoolean();

    HeldWrites(BackingDevice device) {
        super(device);
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        Runnable h = beforeWrite;
        if (h != null) {
            h.run();
        }
        super.write(offset, src, fua);
    }

    @Override
    public void trim(long offset, long length) throws IOException {
        if (failNextTrim.getAndSet(false)) {
            throw new pcache.api.BackingDeviceException("injected trim failure at " + offset);
        }
        super.trim(offset, length);
    }

    /**
     * Holds writes before they reach the device until {@code land} opens (at most 20 s);
     * {@code writing} says one waits. With {@code onlyTheNext}, only the next write is held.
     */
    void holdWrites(CountDownLatch writing, CountDownLatch land, boolean onlyTheNext) {
        AtomicBoolean first = new AtomicBoolean(true);
        beforeWrite = () -> {
            if (onlyTheNext && !first.getAndSet(false)) {
                return;
            }
            writing.countDown();
            try {
                land.await(20, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
    }
}
