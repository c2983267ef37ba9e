package pcache.api.spi;

import org.osgi.annotation.versioning.ConsumerType;

import pcache.api.BackingState;
import pcache.api.BlockDevice;

/**
 * The slow device behind a cache: a file, a disk, a remote NBD export. Registered as a service
 * by driver bundles with the properties {@link #NAME} and {@link #DRIVER}.
 *
 * <p>Contract beyond {@link BlockDevice}: all methods are thread-safe and may be called
 * concurrently; {@link #flush()} returns only when every write that returned before it started is
 * on the device's stable storage (a data sync for files, NBD FLUSH for exports). Writes carry no
 * FUA requirement from the cache (it flushes before it relies on them), but must honour it when
 * asked. Every failure is an {@link java.io.IOException} whose message names the device.
 *
 * <p>The device's life cycle belongs to the component that registered it; the cache never
 * closes it.
 */
@ConsumerType
public interface BackingDevice extends BlockDevice {

    /** Service property: the configured name of this backing device. */
    String NAME = "pcache.backing.name";
    /** Service property: the driver kind, e.g. {@code file} or {@code nbd}. */
    String DRIVER = "pcache.backing.driver";

    /** The identity recorded by caches paired with this device. */
    BackingIdentity identity();

    /** Human-readable description for status output, e.g. {@code file:/srv/disk.img}. */
    String description();

    /** Current connection state; devices that cannot lose their connection are always ONLINE. */
    default BackingState state() {
        return BackingState.ONLINE;
    }
}
