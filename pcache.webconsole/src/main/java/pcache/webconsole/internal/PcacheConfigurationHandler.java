package pcache.webconsole.internal;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.Dictionary;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.felix.webconsole.spi.ConfigurationHandler;
import org.apache.felix.webconsole.spi.ValidationException;
import org.osgi.framework.FrameworkUtil;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

import pcache.api.CacheDevice;
import pcache.api.CacheMode;
import pcache.api.config.ConfigPids;
import pcache.api.config.ConfigurationChecks;
import pcache.api.config.DevicePaths;
import pcache.api.config.LdapFilters;
import pcache.api.config.TargetProperties;
import pcache.io.Printable;
import pcache.io.log.Log;

/**
 * Checks what the Web Console's configuration manager is about to save or delete, before it does
 * (the console's {@link ConfigurationHandler} SPI): the forms of caches, backing devices, the NBD
 * export and the health checks' threshold are checked with {@link ConfigurationChecks}, the rules and conflicts of the launcher and {@code pcache:create}
 * (a cache device under 512 MiB, a second cache of one name, two backing devices on one disk, a
 * backing device a cache still uses, ...), and with the reference filters' LDAP syntax. A refused
 * form is not saved: the console answers 400 with the problems, the log has a line, and the pcache
 * page lists the latest {@value #REMEMBERED} refusals, since the console's form does not show the
 * answer's text.
 */
@Component(service = {ConfigurationHandler.class, PcacheConfigurationHandler.class})
public class PcacheConfigurationHandler implements ConfigurationHandler {

    /** How many refusals the pcache page lists. */
    static final int REMEMBERED = 10;

    /** Characters of a refusal shown in the log and on the page; it carries the form's values. */
    static final int MAX_MESSAGE_CHARS = 4096;

    private static final System.Logger LOG = Log.of(PcacheConfigurationHandler.class);
    private static final String FACTORIES = "(|" + LdapFilters.equal(ConfigurationAdmin.SERVICE_FACTORYPID,
            ConfigPids.TARGET) + LdapFilters.equal(ConfigurationAdmin.SERVICE_FACTORYPID, ConfigPids.BACKING_FILE)
            + LdapFilters.equal(ConfigurationAdmin.SERVICE_FACTORYPID, ConfigPids.BACKING_NBD) + ")";

    /** A refused change: when, which configuration, and why. */
    record Refusal(long timeMillis, String configuration, String message) {
    }

    @Reference
    ConfigurationAdmin admin;

    /** The open caches: one whose configuration is deleted must hold nothing not yet written back. */
    @Reference(cardinality = org.osgi.service.component.annotations.ReferenceCardinality.MULTIPLE,
            policy = org.osgi.service.component.annotations.ReferencePolicy.DYNAMIC,
            policyOption = org.osgi.service.component.annotations.ReferencePolicyOption.GREEDY)
    volatile List<CacheDevice> caches = List.of();

    private final Deque<Refusal> refusals = new ArrayDeque<>();

    @Override
    public void createConfiguration(String pid) {
        // nothing is saved yet: the values come with updateConfiguration
    }

    @Override
    public void createFactoryConfiguration(String factoryPid, String name) {
        // nothing is saved yet: the values come with updateConfiguration
    }

    @Override
    public void deleteConfiguration(String factoryPid, String pid) throws ValidationException, IOException {
        List<ConfigurationChecks.Existing> existing = existing();
        List<String> problems = new ArrayList<>(ConfigurationChecks.deletionProblems(factoryPid, pid, existing));
        if (ConfigPids.TARGET.equals(factoryPid)) {
            String dirty = dirtyCache(pid, existing);
            if (dirty != null) {
                problems.add(dirty);
            }
        }
        refuseIfAny(pid, problems);
    }

    /**
     * Why the cache of configuration {@code pid} may not go, or null when it may: it holds data not
     * yet written back, which would then be only on its cache device (closing a cache does not write
     * back). As {@code pcache:remove} does, an open cache is flushed, found clean and switched to
     * passthrough before its configuration goes: from then on a client's write goes straight to the
     * backing device, where before a write arriving between the check and the deletion stayed dirty
     * on the cache device. Before any of this, a deletion in the console was accepted with dirty
     * data, the export went away, and every health check turned green.
     */
    private String dirtyCache(String pid, List<ConfigurationChecks.Existing> existing) {
        ConfigurationChecks.Existing stored = stored(pid, existing);
        CacheDevice cache = stored == null ? null : openCacheOf(stored);
        if (cache == null) {
            return null;
        }
        String name = cache.name();
        try {
            if (cache.mode() == CacheMode.PASSTHROUGH) {
                return null; // entered only after a full write-back; nothing becomes dirty in it
            }
            cache.flush();
            // dirty bytes, not the log's clean state: read misses log clean keys, which a flush
            // seals in a kset ahead of the dirty tail until write-back passes it (passthrough
            // then writes back what little is left)
            long dirtyBytes = cache.statistics().dirtyBytes();
            if (dirtyBytes > 0) {
                return "cache '" + name + "' holds " + dirtyBytes + " bytes not yet written back, which would"
                        + " stay only on its cache device: write them back first (pcache:drain " + name
                        + ", or pcache:remove --drain " + name + " instead of this deletion)";
            }
            cache.setMode(CacheMode.PASSTHROUGH);
        } catch (IOException | RuntimeException e) { // closing, out of service, its flush failed
            return "cache '" + name + "' cannot be made sure to hold nothing not yet written back ("
                    + e.getMessage() + "); use pcache:remove --drain " + name;
        }
        LOG.log(System.Logger.Level.INFO, "Web Console: cache {0} is clean and switched to passthrough before its"
                + " configuration is deleted", name);
        return null;
    }

    /**
     * The open cache of a stored cache configuration: by its name, or by its cache device (a name
     * changed in ConfigAdmin by other means than this console's form, which the cache refused and
     * kept its own, must not hide it); null when it is not open.
     */
    private CacheDevice openCacheOf(ConfigurationChecks.Existing stored) {
        Object name = stored.properties().get(TargetProperties.NAME);
        Object cacheDev = stored.properties().get(TargetProperties.CACHE_DEV);
        for (CacheDevice cache : caches) {
            if (cache.name().equals(name)) {
                return cache;
            }
        }
        for (CacheDevice cache : caches) {
            try {
                if (cacheDev != null && DevicePaths.sameAsConfigured(cache.status().cacheDevice(), cacheDev)) {
                    return cache;
                }
            } catch (RuntimeException e) { // closing: it is not this one's to answer for
                continue;
            }
        }
        return null;
    }

    /**
     * What the form of saved cache configuration {@code pid} may not change. Its name never: the
     * cache keeps the name it was created with and refuses the change (a line in the log), while
     * ConfigAdmin would keep the new one; a later deletion looked for an open cache of the new name
     * and let a dirty cache go. Its cache device not while the cache is open: data not yet written
     * back lives on the old one, and the cache would be opened on the new one without it.
     */
    private List<String> unchangeable(String pid, Map<String, Object> proposed,
            List<ConfigurationChecks.Existing> existing) {
        ConfigurationChecks.Existing stored = stored(pid, existing);
        if (stored == null) {
            return List.of();
        }
        List<String> problems = new ArrayList<>();
        Object was = stored.properties().get(TargetProperties.NAME);
        Object now = proposed.get(TargetProperties.NAME);
        if (was != null && now != null && !was.toString().trim().equals(now.toString().trim())) {
            problems.add("name cannot change (from " + was + " to " + now + "): the cache, its export, statistics"
                    + " and metrics keep the name they were created with. To rename a cache: remove it (pcache:remove"
                    + " " + was + ") and create it again under the new name; its cache device and backing device"
                    + " stay as they are");
        }
        Object wasDev = stored.properties().get(TargetProperties.CACHE_DEV);
        Object nowDev = proposed.get(TargetProperties.CACHE_DEV);
        CacheDevice open = openCacheOf(stored);
        if (open != null && nowDev != null && wasDev != null
                && !DevicePaths.sameAsConfigured(nowDev.toString(), wasDev)) {
            problems.add(TargetProperties.CACHE_DEV + " cannot change while cache '" + open.name() + "' is open"
                    + " (from " + wasDev + " to " + nowDev + "): data not yet written back lives on the old device,"
                    + " and the new one would be opened without it. To move the cache: set cache_mode=passthrough"
                    + " (which writes everything back), then remove the cache and create it again on the new device");
        }
        return problems;
    }

    private static ConfigurationChecks.Existing stored(String pid, List<ConfigurationChecks.Existing> existing) {
        return pid == null ? null
                : existing.stream().filter(e -> e.pid().equals(pid) && ConfigPids.TARGET.equals(e.factoryPid()))
                        .findFirst().orElse(null);
    }

    @Override
    public void updateConfiguration(String factoryPid, String pid, Dictionary<String, Object> properties)
            throws ValidationException, IOException {
        Map<String, Object> proposed = map(properties);
        List<ConfigurationChecks.Existing> existing = existing();
        List<String> problems = new ArrayList<>(ConfigurationChecks.problems(factoryPid, pid, proposed, existing));
        if (ConfigPids.TARGET.equals(factoryPid)) {
            problems.addAll(unchangeable(pid, proposed, existing));
            proposed.forEach((key, value) -> {
                if (key.endsWith(".target") && value != null) {
                    try {
                        FrameworkUtil.createFilter(value.toString());
                    } catch (InvalidSyntaxException e) {
                        problems.add(key + "=" + value + ": not an LDAP filter (" + e.getMessage() + ")");
                    }
                }
            });
        }
        Object name = proposed.get("name");
        refuseIfAny((factoryPid == null ? pid : factoryPid) + (name == null ? "" : " '" + name + "'"), problems);
    }

    /** The latest refusals, newest first. */
    synchronized List<Refusal> refusals() {
        return List.copyOf(refusals);
    }

    private void refuseIfAny(String configuration, List<String> problems) throws ValidationException {
        if (problems.isEmpty()) {
            return;
        }
        // the form's values are in it: a line break in one would start a forged log line
        String message = Printable.of("pcache refused this change of " + configuration + ": "
                + String.join("; ", problems), MAX_MESSAGE_CHARS);
        LOG.log(System.Logger.Level.WARNING, "Web Console: " + message);
        synchronized (this) {
            refusals.addFirst(new Refusal(System.currentTimeMillis(), configuration, message));
            while (refusals.size() > REMEMBERED) {
                refusals.removeLast();
            }
        }
        throw new ValidationException(message);
    }

    /** pcache's cache and backing-device configurations as ConfigAdmin holds them. */
    private List<ConfigurationChecks.Existing> existing() throws IOException {
        Configuration[] found;
        try {
            found = admin.listConfigurations(FACTORIES);
        } catch (InvalidSyntaxException e) {
            throw new IllegalStateException(FACTORIES, e);
        }
        List<ConfigurationChecks.Existing> existing = new ArrayList<>();
        for (Configuration c : found == null ? new Configuration[0] : found) {
            existing.add(new ConfigurationChecks.Existing(c.getFactoryPid(), c.getPid(), map(c.getProperties())));
        }
        return existing;
    }

    /** A configuration's dictionary as a map (empty for none). */
    private static Map<String, Object> map(Dictionary<String, Object> properties) {
        Map<String, Object> map = new HashMap<>();
        if (properties != null) {
            for (String key : Collections.list(properties.keys())) {
                map.put(key, properties.get(key));
            }
        }
        return map;
    }
}
