package pcache.shell.internal;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.Enumeration;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.BooleanSupplier;

import org.osgi.framework.InvalidSyntaxException;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;

import pcache.api.BackingState;
import pcache.api.CacheDevice;
import pcache.api.CacheOpenFailure;
import pcache.api.CacheImageTool;
import pcache.api.CacheMode;
import pcache.api.CacheStatus;
import pcache.api.config.BackingLocation;
import pcache.api.config.BackingProperties;
import pcache.api.config.CacheDefinition;
import pcache.api.config.CacheNames;
import pcache.api.config.DevicePaths;
import pcache.api.config.ConfigPids;
import pcache.api.config.ConfigurationChecks;
import pcache.api.config.LdapFilters;
import pcache.api.config.TargetProperties;
import pcache.api.format.PcacheFormat;
import pcache.api.spi.BackingDevice;
import pcache.api.spi.BackingIdentity;

/**
 * The commands that change what caches exist and what they are made of, through ConfigAdmin
 * (create, remove, swap-backing, and keeping the configuration in step with gc-percent and mode).
 * Plain Java over the services it is given, so it is tested with fakes.
 *
 * <p>Every change either completes or leaves things as they were: a backing device that does not
 * come up, or that the cache refuses, is rolled back; a cache with data not yet written back is
 * never removed.
 */
final class CacheAdministration {

    /** The services the commands work with; any may be missing (null or empty). */
    interface Services {
        ConfigurationAdmin configurationAdmin();

        List<CacheDevice> caches();

        /** Why configured caches are not open. */
        List<CacheOpenFailure> openFailures();

        List<ListReport.BackingEntry> backings();

        CacheImageTool imageTool();
    }

    /**
     * How long to wait for the framework to act on a configuration change.
     *
     * @param open a created cache to open
     * @param service a backing device service to come or go
     * @param swap a cache to take a new backing device
     */
    record Timeouts(Duration open, Duration service, Duration swap) {
        static final Timeouts DEFAULT = new Timeouts(Duration.ofSeconds(60), Duration.ofSeconds(20),
                Duration.ofSeconds(30));
    }

    private final Services services;
    private final Timeouts timeouts;

    CacheAdministration(Services services, Timeouts timeouts) {
        this.services = services;
        this.timeouts = timeouts;
    }

    // ---------------------------------------------------------------- lookups

    private ConfigurationAdmin admin() {
        ConfigurationAdmin admin = services.configurationAdmin();
        if (admin == null) {
            throw new CommandFailedException("no ConfigurationAdmin service: caches are created, removed and"
                    + " re-wired through it (is org.apache.felix.configadmin installed and started?)");
        }
        return admin;
    }

    /** The open cache named {@code name}, or null. */
    CacheDevice cacheNamed(String name) {
        for (CacheDevice c : services.caches()) {
            if (name.equals(safeName(c))) {
                return c;
            }
        }
        return null;
    }

    /** The open cache named {@code name}. */
    CacheDevice requireCache(String name) {
        CacheDevice c = cacheNamed(name);
        if (c == null) {
            CacheOpenFailure failure = openFailure(name);
            if (failure != null) {
                throw new CommandFailedException(notOpen(failure));
            }
            throw new IllegalArgumentException("no open cache named '" + name + "'; caches: " + cacheNames());
        }
        return c;
    }

    /** Why the configured cache {@code name} is not open, or null when it published no reason. */
    CacheOpenFailure openFailure(String name) {
        for (CacheOpenFailure f : services.openFailures()) {
            if (name.equals(f.name())) {
                return f;
            }
        }
        return null;
    }

    /** What a command says of a configured cache that is not open. */
    static String notOpen(CacheOpenFailure f) {
        return "cache '" + f.name() + "' is configured but not open: " + why(f);
    }

    /** Why {@code f}'s cache is not open, in a command's words. */
    static String why(CacheOpenFailure f) {
        return f.waitsForBacking() ? f.reason() : "it cannot be opened: " + f.reason();
    }

    String cacheNames() {
        List<String> names = new ArrayList<>();
        services.caches().forEach(c -> names.add(safeName(c)));
        names.sort(null);
        return names.isEmpty() ? "none" : String.join(", ", names);
    }

    private static String safeName(CacheDevice c) {
        try {
            return c.name();
        } catch (RuntimeException e) {
            return "?";
        }
    }

    private ListReport.BackingEntry backingNamed(String name) {
        for (ListReport.BackingEntry b : services.backings()) {
            if (name.equals(b.name())) {
                return b;
            }
        }
        return null;
    }

    private static Configuration[] list(ConfigurationAdmin admin, String factoryPid) throws IOException {
        try {
            Configuration[] found = admin.listConfigurations(LdapFilters.equal(ConfigurationAdmin.SERVICE_FACTORYPID,
                    factoryPid));
            return found == null ? new Configuration[0] : found;
        } catch (InvalidSyntaxException e) {
            throw new IllegalStateException("bad filter for " + factoryPid, e);
        }
    }

    private static Object property(Configuration c, String key) {
        Dictionary<String, Object> p = c.getProperties();
        return p == null ? null : p.get(key);
    }

    /** How a backing device's configuration names it: {@code file:PATH} or its URI. */
    private static String backingText(Configuration c) {
        Object path = property(c, BackingProperties.PATH);
        return path != null ? "file:" + path : String.valueOf(property(c, BackingProperties.URI));
    }

    /** Where a backing device's data is ({@link BackingLocation#disk()}), or null when unreadable. */
    private static String diskOf(Configuration c) {
        return ConfigurationChecks.disk(backingText(c));
    }

    /** The cache configuration ({@value ConfigPids#TARGET}) whose {@code name} is {@code name}, or null. */
    Configuration targetConfiguration(String name) throws IOException {
        ConfigurationAdmin admin = services.configurationAdmin();
        if (admin == null) {
            return null;
        }
        for (Configuration c : list(admin, ConfigPids.TARGET)) {
            if (name.equals(property(c, TargetProperties.NAME))) {
                return c;
            }
        }
        return null;
    }

    /** Backing-device configurations (file or NBD) whose {@code name} is {@code backingName}. */
    private List<Configuration> backingConfigurations(ConfigurationAdmin admin, String backingName) throws IOException {
        List<Configuration> found = new ArrayList<>();
        for (String pid : List.of(ConfigPids.BACKING_FILE, ConfigPids.BACKING_NBD)) {
            for (Configuration c : list(admin, pid)) {
                if (backingName.equals(property(c, BackingProperties.NAME))) {
                    found.add(c);
                }
            }
        }
        return found;
    }

    /** The backing device name a cache configuration selects, or null when its filter is not a plain name. */
    static String backingName(Configuration target) {
        Object filter = property(target, TargetProperties.BACKING_TARGET);
        return filter == null ? null : CacheDefinition.selectedBackingName(filter.toString()).orElse(null);
    }

    private static Dictionary<String, Object> copy(Configuration c) {
        Hashtable<String, Object> d = new Hashtable<>();
        Dictionary<String, Object> p = c.getProperties();
        if (p != null) {
            for (Enumeration<String> keys = p.keys(); keys.hasMoreElements();) {
                String k = keys.nextElement();
                d.put(k, p.get(k));
            }
        }
        return d;
    }

    private static void createFactoryConfiguration(ConfigurationAdmin admin, String factoryPid, String name,
            Map<String, Object> properties) throws IOException {
        admin.getFactoryConfiguration(factoryPid, name, "?").update(new Hashtable<>(properties));
    }

    // ---------------------------------------------------------------- create

    /** {@code pcache:create}: makes the configurations and waits until the cache is open. */
    String create(CacheDefinition d) throws IOException {
        ConfigurationAdmin admin = admin();
        if (cacheNamed(d.name()) != null || targetConfiguration(d.name()) != null) {
            throw new CommandFailedException(ConfigurationChecks.cacheNameTaken(d.name()));
        }
        if (openFailure(d.name()) != null) {
            // a cache of this name removed just now whose component is still going: its failure
            // would be taken for the new cache's
            throw new CommandFailedException("cache '" + d.name() + "' was removed but its component is still"
                    + " stopping; try again in a moment");
        }
        // paths are compared by the file they reach (DevicePaths): a link to a device is that device
        Path newFile = d.backing() instanceof pcache.api.config.BackingLocation.File f ? f.path() : null;
        for (Configuration c : list(admin, ConfigPids.TARGET)) {
            Object cacheDev = property(c, TargetProperties.CACHE_DEV);
            if (DevicePaths.sameAsConfigured(d.cacheDev().toString(), cacheDev)) {
                throw new CommandFailedException(ConfigurationChecks.cacheDeviceTaken(d.cacheDev(),
                        property(c, TargetProperties.NAME)));
            }
            // nor may the new disk be another cache's cache device: formatting it would destroy that cache
            if (newFile != null && DevicePaths.sameAsConfigured(newFile.toString(), cacheDev)) {
                throw new CommandFailedException("backing=" + d.backing().text() + " is the cache device of cache '"
                        + property(c, TargetProperties.NAME) + "': a backing device must not be another cache's"
                        + " cache device; choose another backing device");
            }
        }
        if (newFile != null && DevicePaths.same(d.cacheDev(), newFile)) {
            throw new CommandFailedException("cache_dev=" + d.cacheDev() + " and backing=" + d.backing().text()
                    + " are the same file: a cache device and its backing device must be different files");
        }
        String disk = d.backing().disk();
        for (String pid : List.of(ConfigPids.BACKING_FILE, ConfigPids.BACKING_NBD)) {
            for (Configuration c : list(admin, pid)) {
                if (disk.equals(diskOf(c))) {
                    throw new CommandFailedException(ConfigurationChecks.diskTaken(d.backing().text(),
                            property(c, BackingProperties.NAME), backingText(c)));
                }
                // the cache device must not be another cache's disk: its write-back would overwrite it
                if (DevicePaths.sameAsConfigured(d.cacheDev().toString(), property(c, BackingProperties.PATH))) {
                    throw new CommandFailedException("cache_dev=" + d.cacheDev() + " is the disk of backing device '"
                            + property(c, BackingProperties.NAME) + "' (" + backingText(c) + "): a cache device and a"
                            + " backing device must be different files; choose another cache_dev");
                }
            }
        }
        List<String> unusable = ConfigurationChecks.deviceFileProblems(d, a -> a.createKey().orElse(a.key()));
        if (!unusable.isEmpty()) {
            throw new CommandFailedException(String.join("; ", unusable));
        }
        for (Configuration stale : backingConfigurations(admin, d.backingName())) {
            stale.delete(); // left behind by an earlier cache of this name
        }
        createFactoryConfiguration(admin, d.backing().pid(), d.backingName(), d.backingProperties());
        createFactoryConfiguration(admin, ConfigPids.TARGET, d.name(), d.targetProperties());
        // until it opens, or fails for a reason other than a backing device that may still come (one
        // that failed to open is such a reason: the cache publishes it as a failure)
        await(timeouts.open(), () -> cacheNamed(d.name()) != null || failedForGood(d.name()));
        if (cacheNamed(d.name()) == null) {
            CacheOpenFailure failure = openFailure(d.name());
            String why = failure != null ? notOpen(failure) : "cache '" + d.name() + "' is configured but did not"
                    + " open within " + timeouts.open().toSeconds() + " s; the log says why";
            throw new CommandFailedException(why + ". pcache:remove "
                    + d.name() + " deletes its configurations");
        }
        CacheDevice cache = requireCache(d.name());
        CacheStatus s = cache.status();
        return "cache " + d.name() + " created and open: " + Sizes.human(cache.sizeBytes()) + ", backing "
                + s.backing() + ", cache device " + StatusReport.cacheDevice(s) + " (" + s.cacheSegs()
                + " segments), mode " + s.mode().configName() + ", data_crc " + s.dataCrc();
    }

    /**
     * Whether the cache {@code name} failed to open for a reason other than a backing device that
     * may still come (every backing device it selects failing to open is such a reason).
     */
    private boolean failedForGood(String name) {
        CacheOpenFailure f = openFailure(name);
        return f != null && !f.waitsForBacking();
    }

    // ---------------------------------------------------------------- remove

    /** {@code pcache:remove}: never strands dirty data (see the command's help). */
    String remove(String name, boolean drain, boolean keepDirty, PrintStream out) throws IOException {
        ConfigurationAdmin admin = admin();
        Configuration target = targetConfiguration(name);
        CacheDevice cache = cacheNamed(name);
        if (target == null) {
            if (cache != null) {
                throw new CommandFailedException("cache '" + name + "' has no ConfigAdmin configuration ("
                        + ConfigPids.TARGET + " with name=" + name + "): it was not made by the launcher"
                        + " or pcache:create, so it cannot be removed here");
            }
            throw new IllegalArgumentException("no cache named '" + name + "'; caches: " + cacheNames());
        }
        Path cacheDev = Path.of(String.valueOf(property(target, TargetProperties.CACHE_DEV)));
        String how;
        if (cache != null) {
            if (keepDirty) {
                throw new CommandFailedException("cache '" + name + "' is open, so it can write its data back:"
                        + " --keep-dirty is for a cache that is not open. Use pcache:remove --drain " + name);
            }
            how = emptyForRemoval(cache, drain, out);
        } else {
            how = checkOfflineImage(name, cacheDev, keepDirty);
        }
        String backingName = backingName(target);
        target.delete();
        // a cache that did not open is gone once its failure is withdrawn (its component deactivated)
        if (!await(timeouts.service(), () -> cacheNamed(name) == null && openFailure(name) == null)) {
            throw new CommandFailedException("the configuration of cache '" + name + "' is deleted but its component"
                    + " has not stopped after " + timeouts.service().toSeconds() + " s (its cache or the reason it"
                    + " did not open is still registered); see the log. Its backing configuration is kept");
        }
        List<String> deleted = new ArrayList<>(List.of(ConfigPids.TARGET + "~" + name));
        if (backingName != null && !selectedByAnotherCache(admin, backingName)) {
            for (Configuration b : backingConfigurations(admin, backingName)) {
                deleted.add(b.getFactoryPid() + "~" + backingName);
                b.delete();
            }
        }
        return "cache " + name + " removed (" + how + "); configurations " + String.join(", ", deleted)
                + " deleted; the cache device " + cacheDev + " is left in place";
    }

    /** Writes back and switches to passthrough; refuses a dirty cache unless asked to drain. */
    private String emptyForRemoval(CacheDevice cache, boolean drain, PrintStream out) throws IOException {
        String name = cache.name();
        boolean drained = false;
        if (cache.mode() != CacheMode.PASSTHROUGH) {
            cache.flush();
            CacheStatus s = cache.status();
            long dirty = cache.statistics().dirtyBytes();
            // dirty bytes, not the log's clean state: read misses log clean keys, which the flush
            // seals in a kset ahead of dirty_tail until write-back passes it (the switch to
            // passthrough writes back what little is left); before, a clean cache was refused
            if (dirty > 0) {
                if (!drain) {
                    throw new CommandFailedException("cache '" + name + "' holds " + dirty + " bytes ("
                            + Sizes.human(dirty) + ") not yet written back (dirty_tail " + s.dirtyTail()
                            + ", key_head " + s.keyHead() + "); removing it now would strand them on its cache"
                            + " device. Use pcache:remove --drain " + name + " (or pcache:drain " + name + " first)");
                }
                drain(cache, out);
                drained = true;
            }
            try {
                // from here on nothing can become dirty: writes go straight to the backing device
                cache.setMode(CacheMode.PASSTHROUGH);
            } catch (IOException | RuntimeException e) {
                throw new CommandFailedException("cache '" + name + "' cannot be switched to passthrough before"
                        + " removal: " + e.getMessage() + "; nothing was removed", e);
            }
        }
        return drained ? "drained, then passthrough" : "clean, passthrough";
    }

    /** Drains with a progress bar on {@code out}. */
    static long drain(CacheDevice cache, PrintStream out) throws IOException {
        ProgressBar bar = new ProgressBar(out);
        long before = cache.statistics().dirtyBytes();
        try {
            cache.drain(bar);
        } catch (IOException | RuntimeException e) {
            bar.abort();
            throw new CommandFailedException("drain of cache '" + cache.name() + "' failed: " + e.getMessage()
                    + "; the dirty data stays safe in the cache", e);
        }
        bar.finish();
        return before;
    }

    /**
     * A cache that is not open may be removed only if its cache device holds nothing dirty, or
     * with {@code keepDirty}, which leaves whatever it holds on the device.
     */
    private String checkOfflineImage(String name, Path cacheDev, boolean keepDirty) throws IOException {
        if (!Files.exists(cacheDev) || neverFormatted(cacheDev)) {
            return "not open, its cache device holds no cache";
        }
        CacheOpenFailure failure = openFailure(name);
        String notOpen = "cache '" + name + "' is not open" + (failure == null ? "" : " (" + why(failure) + ")");
        String keep = " pcache:remove --keep-dirty " + name + " removes it all the same and leaves the device as it"
                + " is: a cache configured on it again, with the same backing device, replays dirty data (a damaged"
                + " device must be mended first; pcache:fsck shows its damage)";
        CacheImageTool tool = services.imageTool();
        if (tool == null) {
            if (keepDirty) {
                return "not open, its cache device not checked and left as it is (--keep-dirty)";
            }
            throw new CommandFailedException(notOpen + " and there is no CacheImageTool service to check its cache"
                    + " device " + cacheDev + " for dirty data; nothing was removed." + keep);
        }
        CacheImageTool.FsckReport report;
        try {
            report = tool.fsck(cacheDev);
        } catch (IOException e) { // in use by a cache that is opening, say, or unreadable
            if (keepDirty) {
                return "not open, its cache device not checked (" + e.getMessage() + ") and left as it is"
                        + " (--keep-dirty)";
            }
            throw new CommandFailedException(notOpen + " and its cache device " + cacheDev + " cannot be checked for"
                    + " dirty data: " + e.getMessage() + ". Nothing was removed. A cache that is opening holds its"
                    + " device: wait until it is open, then pcache:remove [--drain] " + name + "." + keep, e);
        }
        if (report.dirtyBytes() > 0) {
            if (keepDirty) {
                return "not open, its cache device keeps " + report.dirtyBytes() + " bytes not yet written back"
                        + " (--keep-dirty)";
            }
            throw new CommandFailedException(notOpen + " and its cache device " + cacheDev + " holds "
                    + report.dirtyBytes() + " bytes not yet written back, which only an open cache can write back:"
                    + " make it open, then pcache:drain it. Nothing was removed." + keep);
        }
        if (!report.ok()) {
            if (keepDirty) {
                return "not open, its damaged cache device left as it is (--keep-dirty)";
            }
            throw new CommandFailedException(notOpen + " and its cache device " + cacheDev + " is damaged ("
                    + report.errors().size() + " error(s), see pcache:fsck " + cacheDev + "), so dirty data cannot be"
                    + " ruled out; nothing was removed." + keep);
        }
        return "not open, its cache device holds nothing dirty";
    }

    /**
     * Whether the device holds no cache: superblock magic 0 and cache_info all zero, the rule the
     * engine opens by (a zero magic alone may be a damaged superblock over a cache's data).
     */
    private static boolean neverFormatted(Path cacheDev) throws IOException {
        ByteBuffer magic = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer info = ByteBuffer.allocate(PcacheFormat.CACHE_INFO_AREA);
        try (FileChannel ch = FileChannel.open(cacheDev, StandardOpenOption.READ)) {
            ch.read(magic, PcacheFormat.SB_OFF + 8);
            ch.read(info, PcacheFormat.CACHE_INFO_OFF);
        }
        if (magic.position() < 8) {
            return true; // shorter than a superblock: not a cache device
        }
        return magic.getLong(0) == 0 && PcacheFormat.firstNonZero(info.array()) < 0;
    }

    private boolean selectedByAnotherCache(ConfigurationAdmin admin, String backingName) throws IOException {
        for (Configuration c : list(admin, ConfigPids.TARGET)) {
            if (backingName.equals(backingName(c))) {
                return true;
            }
        }
        return false;
    }

    // ---------------------------------------------------------------- swap-backing

    /**
     * What a swap starts from: the cache, its configuration, the backing device it selects now
     * (name, configurations, service) and the label the new device is to carry.
     */
    private record SwapStart(String name, CacheDevice cache, Configuration target, String oldName,
            ListReport.BackingEntry old, Optional<String> label) {
        String oldDescription() {
            return describe(old, oldName);
        }
    }

    /** {@code pcache:swap-backing}: re-points a running cache to another backing device. */
    String swapBacking(String name, BackingLocation to, String identity) throws IOException {
        ConfigurationAdmin admin = admin();
        SwapStart start = checkSwap(admin, name, to, identity);
        String newName = start.oldName().equals(CacheNames.backingName(name)) ? CacheNames.backingName(name) + "-2"
                : CacheNames.backingName(name);
        for (Configuration stale : backingConfigurations(admin, newName)) {
            stale.delete();
        }
        createFactoryConfiguration(admin, to.pid(), newName, CacheDefinition.backingProperties(newName, to, 0,
                start.label()));
        Configuration created = backingConfigurations(admin, newName).stream().findFirst().orElse(null);
        try {
            BackingDevice device = awaitNewBacking(start, to, newName);
            checkSameData(start, to, device);
            repoint(start, newName, device);
        } catch (IOException | RuntimeException e) {
            if (created != null) {
                created.delete();
            }
            throw e;
        }
        if (!selectedByAnotherCache(admin, start.oldName())) {
            for (Configuration c : backingConfigurations(admin, start.oldName())) {
                c.delete();
            }
        }
        CacheStatus s = start.cache().status();
        return "cache " + name + ": backing device " + start.oldDescription() + " -> " + s.backing() + " ("
                + s.backingState().name().toLowerCase(java.util.Locale.ROOT) + "); configuration " + newName
                + " replaces " + start.oldName() + ". If a launcher configuration file defines this cache, set its"
                + " cache." + name + ".backing_dev=" + to.text()
                + start.label().map(l -> " and cache." + name + ".backing_identity=" + l).orElse("")
                + " now: the launcher reads the file again at every start, and would put the old device back (which"
                + " lacks what was written back since)";
    }

    /** Everything a swap can be refused for before anything changes. */
    private SwapStart checkSwap(ConfigurationAdmin admin, String name, BackingLocation to, String identity)
            throws IOException {
        Configuration target = targetConfiguration(name);
        if (target == null) {
            throw new IllegalArgumentException("no cache configuration named '" + name + "' (caches: " + cacheNames()
                    + "); swap-backing changes the configuration the launcher or pcache:create made");
        }
        CacheDevice cache = requireCache(name);
        String oldName = backingName(target);
        if (oldName == null) {
            throw new CommandFailedException("cache '" + name + "' selects its backing device with backing.target="
                    + property(target, TargetProperties.BACKING_TARGET) + ", not ("
                    + pcache.api.spi.BackingDevice.NAME + "=NAME); change that configuration by hand");
        }
        List<Configuration> oldConfigs = backingConfigurations(admin, oldName);
        for (Configuration c : oldConfigs) {
            if (to.disk().equals(diskOf(c))) { // by the disk: a link to the same file, the same export spelled otherwise
                throw new CommandFailedException("cache '" + name + "' already uses " + to.text());
            }
        }
        if (to instanceof BackingLocation.File f && !Files.exists(f.path())) {
            throw new CommandFailedException("backing file " + f.path() + " does not exist; a cache can only move to"
                    + " a device holding the same data (a copy of the current one)");
        }
        String label = identity;
        if (label == null) {
            for (Configuration c : oldConfigs) {
                Object id = property(c, BackingProperties.IDENTITY);
                if (id != null && !id.toString().isEmpty()) {
                    label = id.toString();
                }
            }
        }
        return new SwapStart(name, cache, target, oldName, backingNamed(oldName), Optional.ofNullable(label));
    }

    /** The new backing device's service, once its configuration brought it up. */
    private BackingDevice awaitNewBacking(SwapStart start, BackingLocation to, String newName) {
        if (!await(timeouts.service(), () -> backingNamed(newName) != null)) {
            throw new CommandFailedException("backing device " + to.text() + " did not come up within "
                    + timeouts.service().toSeconds() + " s (the log says why); cache '" + start.name()
                    + "' still uses " + start.oldDescription());
        }
        return backingNamed(newName).device();
    }

    /** Refuses a device of another size, or of another identity unless the cache forces identities. */
    private static void checkSameData(SwapStart start, BackingLocation to, BackingDevice device) {
        CacheDevice cache = start.cache();
        if (device.sizeBytes() != cache.sizeBytes()) {
            throw new CommandFailedException("backing device " + device.description() + " has "
                    + device.sizeBytes() + " bytes but cache '" + start.name() + "' caches a device of "
                    + cache.sizeBytes() + " bytes; it cannot be the same data");
        }
        boolean force = Boolean.parseBoolean(String.valueOf(property(start.target(), TargetProperties.FORCE_IDENTITY)));
        if (start.old() != null && !force) {
            BackingIdentity was = start.old().device().identity();
            BackingIdentity now = device.identity();
            if (!Objects.equals(was, now)) {
                throw new CommandFailedException("backing device " + device.description() + " has identity "
                        + now + " but cache '" + start.name() + "' belongs to " + was + "; if it holds the same data,"
                        + " say so: pcache:swap-backing " + start.name() + " " + to.text() + " identity=" + was.id());
            }
        }
    }

    /** Points the cache's {@code backing.target} at the new device; rolls back if the cache does not take it. */
    private void repoint(SwapStart start, String newName, BackingDevice device) throws IOException {
        Dictionary<String, Object> props = copy(start.target());
        Object oldFilter = props.get(TargetProperties.BACKING_TARGET);
        props.put(TargetProperties.BACKING_TARGET, CacheDefinition.backingFilter(newName));
        start.target().update(props);
        String want = device.description();
        if (!await(timeouts.swap(), () -> usesBacking(start.cache(), want))) {
            props.put(TargetProperties.BACKING_TARGET, oldFilter);
            start.target().update(props);
            throw new CommandFailedException("cache '" + start.name() + "' did not take backing device " + want
                    + " within " + timeouts.swap().toSeconds() + " s (the log says why); rolled back to "
                    + start.oldDescription());
        }
    }

    private static boolean usesBacking(CacheDevice cache, String description) {
        try {
            CacheStatus s = cache.status();
            return s.backing().equals(description) && s.backingState() != BackingState.UNAVAILABLE;
        } catch (RuntimeException e) {
            return false;
        }
    }

    private static String describe(ListReport.BackingEntry entry, String name) {
        if (entry == null) {
            return "'" + name + "' (not registered)";
        }
        try {
            return entry.device().description();
        } catch (RuntimeException e) {
            return "'" + name + "'";
        }
    }

    // ---------------------------------------------------------------- configuration in step

    /**
     * Sets {@code key} of cache {@code name}'s configuration, when there is one, so a re-created
     * cache keeps a setting changed at run time.
     *
     * @return whether a configuration was updated
     */
    boolean persist(String name, String key, Object value) throws IOException {
        Configuration target = targetConfiguration(name);
        if (target == null) {
            return false;
        }
        Dictionary<String, Object> props = copy(target);
        if (value.equals(props.get(key))) {
            return true;
        }
        props.put(key, value);
        target.update(props);
        return true;
    }

    // ---------------------------------------------------------------- helpers

    /** Polls {@code condition} until it holds or {@code timeout} passes. */
    static boolean await(Duration timeout, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            if (condition.getAsBoolean()) {
                return true;
            }
            if (System.nanoTime() > deadline) {
                return false;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return condition.getAsBoolean();
            }
        }
    }
}
