package pcache.launcher;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import pcache.launcher.BackingSpec.FileBacking;
import pcache.launcher.BackingSpec.NbdBacking;

/**
 * Turns {@link PcacheSettings} into ConfigAdmin configurations. For each cache {@code <name>}:
 * <ul>
 * <li>a backing-device configuration named {@code <name>.backing}: factory PID
 * {@value #BACKING_FILE_PID} ({@code name, path, size_bytes, create[, identity]}) or
 * {@value #BACKING_NBD_PID} ({@code name, uri[, identity]});</li>
 * <li>a target configuration named {@code <name>}, factory PID {@value #TARGET_PID}, whose
 * reference targets select that backing device, the pmem provider and the write-back policy.</li>
 * </ul>
 * and one configuration of the NBD export, PID {@value #EXPORT_NBD_PID} ({@code listen}).
 */
public final class ConfigAdminMapping {

    public static final String BACKING_FILE_PID = "pcache.backing.file";
    public static final String BACKING_NBD_PID = "pcache.backing.nbd";
    public static final String TARGET_PID = "pcache.target";
    public static final String EXPORT_NBD_PID = "pcache.export.nbd";

    /** Service properties the reference targets filter on (constants of pcache.api's SPI). */
    static final String BACKING_NAME_PROPERTY = "pcache.backing.name";

    private ConfigAdminMapping() {
    }

    /** Every configuration of {@code settings}: per cache its backing device then its target, then the export. */
    public static List<ConfigurationRecord> map(PcacheSettings settings) {
        List<ConfigurationRecord> records = new ArrayList<>();
        for (CacheSettings cache : settings.caches()) {
            records.add(backing(cache));
            records.add(target(cache));
        }
        records.add(new ConfigurationRecord(EXPORT_NBD_PID, Optional.empty(), Map.of("listen", settings.nbdListen())));
        return records;
    }

    static ConfigurationRecord backing(CacheSettings cache) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("name", cache.backingName());
        String pid;
        if (cache.backing() instanceof FileBacking file) {
            pid = BACKING_FILE_PID;
            p.put("path", file.path().toString());
            p.put("size_bytes", file.createSizeBytes());
            p.put("create", file.create());
        } else {
            pid = BACKING_NBD_PID;
            p.put("uri", ((NbdBacking) cache.backing()).uri().toString());
        }
        cache.backingIdentity().ifPresent(id -> p.put("identity", id));
        return new ConfigurationRecord(pid, Optional.of(cache.backingName()), p);
    }

    static ConfigurationRecord target(CacheSettings cache) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("name", cache.name());
        p.put("cache_dev", cache.cacheDev().toString());
        p.put("cache_dev_size_bytes", cache.cacheDevSizeBytes());
        p.put("cache_mode", cache.cacheMode());
        p.put("data_crc", cache.dataCrc());
        p.put("gc_percent", cache.gcPercent());
        p.put("backing.target", filter(BACKING_NAME_PROPERTY, cache.backingName()));
        for (int i = 0; i < CacheParts.KINDS.size(); i++) {
            CacheParts.Kind kind = CacheParts.KINDS.get(i);
            p.put(kind.reference() + ".target", filter(kind.property(), cache.parts().names().get(i)));
        }
        p.put("force_identity", cache.forceIdentity());
        p.put("backing_timeout_ms", cache.backingTimeout().toMillis());
        return new ConfigurationRecord(TARGET_PID, Optional.of(cache.name()), p);
    }

    /** Values are validated names ([A-Za-z0-9_.-]), so they need no LDAP escaping. */
    private static String filter(String property, String value) {
        return "(" + property + "=" + value + ")";
    }
}
