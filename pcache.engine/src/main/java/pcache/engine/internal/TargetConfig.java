package pcache.engine.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.AttributeType;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.osgi.service.metatype.annotations.Option;

import pcache.api.config.TargetProperties;

/**
 * Configuration of one cache (factory PID {@code pcache.target}). Method names map to property
 * keys by the DS rules: {@code __} becomes {@code _} and a single {@code _} becomes {@code .}, so
 * {@code cache__dev()} is {@code cache_dev} and {@code backing_target()} is the reference target
 * property {@code backing.target}. Names, defaults and ranges are pcache.api.config's
 * {@link TargetProperties} (the launcher and the shell write these configurations with them);
 * TargetPropertiesTest holds the method names equal to its property names.
 */
@ObjectClassDefinition(name = "pcache cache",
        description = "A persistent cache (dm-pcache format) in front of a backing device, exported as a"
                + " CacheDevice service named after 'name'.")
@interface TargetConfig {

    @AttributeDefinition(name = "Name", description = "The cache's name: the CacheDevice service property"
            + " pcache.cache.name and the NBD export name: " + pcache.api.config.CacheNames.RULE + ".")
    String name();

    @AttributeDefinition(name = "Cache device", description = "Path of the cache device: a file on a DAX"
            + " file system (pmem), a regular file, or a block device.")
    String cache__dev();

    @AttributeDefinition(name = "Cache device size", description = "Bytes to create a missing cache device"
            + " with; 0 means it must exist. At least 512 MiB.")
    long cache__dev__size__bytes() default 0;

    @AttributeDefinition(name = "Cache mode", description = "How writes are treated; switchable at run time.",
            options = {@Option(label = "writeback", value = "writeback"),
                @Option(label = "writethrough", value = "writethrough"),
                @Option(label = "passthrough", value = "passthrough")})
    String cache__mode() default TargetProperties.CACHE_MODE_DEFAULT;

    @AttributeDefinition(name = "Data CRC", description = "Keep a CRC of cached data and verify it on reads"
            + " and write-back. Fixed when the cache device is formatted.")
    boolean data__crc() default TargetProperties.DATA_CRC_DEFAULT;

    @AttributeDefinition(name = "GC threshold", description = "GC reclaims segments while at least this"
            + " percentage is in use (" + TargetProperties.GC_PERCENT_MIN + ".." + TargetProperties.GC_PERCENT_MAX + ").",
            min = "" + TargetProperties.GC_PERCENT_MIN, max = "" + TargetProperties.GC_PERCENT_MAX)
    int gc__percent() default TargetProperties.GC_PERCENT_DEFAULT;

    @AttributeDefinition(name = "Backing device", description = "LDAP filter selecting the BackingDevice"
            + " service, e.g. (pcache.backing.name=disk0). Changing it re-points the running cache.")
    String backing_target() default TargetProperties.BACKING_TARGET_DEFAULT;

    @AttributeDefinition(name = "Pmem mapping", description = "LDAP filter selecting the PmemProvider, e.g."
            + " (pcache.pmem.type=mapped) or (pcache.pmem.type=fileio). Changing it re-opens the cache"
            + " device through the new provider while clients wait.")
    String pmem_target() default TargetProperties.PMEM_TARGET_DEFAULT;

    @AttributeDefinition(name = "Write-back policy", description = "LDAP filter selecting the WritebackPolicy,"
            + " e.g. (pcache.writeback.policy=ordered) or (pcache.writeback.policy=batching).")
    String writeback_target() default TargetProperties.WRITEBACK_TARGET_DEFAULT;

    @AttributeDefinition(name = "CRC provider", description = "LDAP filter selecting the CrcProvider.")
    String crc_target() default TargetProperties.CRC_TARGET_DEFAULT;

    @AttributeDefinition(name = "Key index", description = "LDAP filter selecting the KeyIndexProvider.")
    String keyindex_target() default TargetProperties.KEYINDEX_TARGET_DEFAULT;

    @AttributeDefinition(name = "Segment allocator", description = "LDAP filter selecting the"
            + " SegmentAllocatorProvider.")
    String allocator_target() default TargetProperties.ALLOCATOR_TARGET_DEFAULT;

    @AttributeDefinition(name = "Force backing identity", description = "Accept a backing device whose identity"
            + " differs from the one the cache recorded, and record the new one.")
    boolean force__identity() default TargetProperties.FORCE_IDENTITY_DEFAULT;

    @AttributeDefinition(name = "Backing timeout (ms)", description = "How long a request that needs the"
            + " backing device waits for one before it fails.", type = AttributeType.LONG)
    long backing__timeout__ms() default TargetProperties.BACKING_TIMEOUT_MS_DEFAULT;

    @AttributeDefinition(name = "Streams", description = "Parallel write streams (kset buffers and data heads);"
            + " 0 = one per CPU.")
    int streams() default TargetProperties.STREAMS_DEFAULT;

    @AttributeDefinition(name = "Kset flush delay (ms)", description = "How long an open kset may wait before"
            + " it is persisted (dm-pcache: 1000).")
    long kset__flush__delay__ms() default TargetProperties.KSET_FLUSH_DELAY_MS_DEFAULT;

    @AttributeDefinition(name = "GC interval (ms)", description = "How often GC and write-back look for work"
            + " when not woken (dm-pcache: 5000).")
    long gc__interval__ms() default TargetProperties.GC_INTERVAL_MS_DEFAULT;
}
