package pcache.engine.internal.engine;

import java.io.IOException;

import pcache.api.CacheConfigurationException;
import pcache.api.spi.BackingDevice;
import pcache.api.spi.BackingIdentity;
import pcache.engine.internal.media.CacheMetadata;

/**
 * The rule that keeps dirty data off the wrong disk: a cache belongs to one backing device, whose
 * identity (and size) it records in pcache's extension record at its first pairing.
 */
final class BackingPairing {

    private BackingPairing() {
    }

    /**
     * Checks that {@code device} is the backing device the cache belongs to; records it on first
     * pairing, or when {@code force_identity} is set.
     */
    static void check(CacheMetadata meta, EngineConfig config, long logicalSize, BackingDevice device)
            throws IOException {
        BackingIdentity offered = device.identity();
        BackingIdentity recorded = meta.extension().backing();
        if (offered.sizeBytes() != logicalSize) {
            throw new CacheConfigurationException("backing device " + device.description() + " has "
                    + offered.sizeBytes() + " bytes but cache " + config.name() + " caches a device of "
                    + logicalSize + " bytes; a cache cannot change size: use a backing device of that size");
        }
        if (recorded == null) {
            meta.storeBackingIdentity(offered);
            return;
        }
        if (!recorded.equals(offered)) {
            if (!config.forceIdentity()) {
                throw new CacheConfigurationException("backing device " + device.description() + " has identity "
                        + offered + ", but cache " + config.name() + " belongs to " + recorded
                        + "; refusing it, because dirty data would be written onto the wrong disk. If this is"
                        + " the same data reached another way, set the backing device's identity label to '"
                        + recorded.id() + "', or set force_identity=true to re-pair the cache");
            }
            CacheEngine.LOG.log(System.Logger.Level.WARNING, "cache {0}: re-pairing with backing device {1} ({2}) instead of {3}"
                    + " because force_identity is set", config.name(), device.description(), offered, recorded);
            meta.storeBackingIdentity(offered);
        }
    }
}
