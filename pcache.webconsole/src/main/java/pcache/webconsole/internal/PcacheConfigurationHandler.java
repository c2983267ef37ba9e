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

import pcache.api.config.ConfigPids;
import pcache.api.config.ConfigurationChecks;
import pcache.api.config.LdapFilters;
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
    volatile List<pcache.api.CacheDevice> caches = List.of();

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
     * Why the cache of configuration {@code pid} may not go: it holds data not yet written back,
     * which would then be only on its cache device (closing a cache does not write back), as
     * {@code pcache:remove} refuses it too; null when it may. Before, a deletion in the console
     * was accepted, the export went away, and every health check turned green.
     */
    private String dirtyCache(String pid, List<ConfigurationChecks.Existing> existing) {
        Object name = existing.stream().filter(e -> e.pid().equals(pid)).findFirst()
                .map(e -> e.properties().get(pcache.api.config.TargetProperties.NAME)).orElse(null);
        for (pcache.api.CacheDevice cache : caches) {
            if (cache.name().equals(name)) {
                long dirtyBytes;
                try {
                    dirtyBytes = cache.statistics().dirtyBytes();
                } catch (RuntimeException e) { // closing, or out of service: it may hold dirty data all the same
                    return "cache '" + name + "' cannot say whether it holds data not yet written back ("
                            + e.getMessage() + "); use pcache:remove --drain " + name;
                }
                if (dirtyBytes > 0) {
                    return "cache '" + name + "' holds " + dirtyBytes + " bytes not yet written back, which would"
                            + " stay only on its cache device: write them back first (pcache:drain " + name
                            + ", or pcache:remove --drain " + name + " instead of this deletion)";
                }
            }
        }
        return null;
    }

    @Override
    public void updateConfiguration(String factoryPid, String pid, Dictionary<String, Object> properties)
            throws ValidationException, IOException {
        Map<String, Object> proposed = map(properties);
        List<String> problems = new ArrayList<>(ConfigurationChecks.problems(factoryPid, pid, proposed, existing()));
        if (ConfigPids.TARGET.equals(factoryPid)) {
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
        String message = "pcache refused this change of " + configuration + ": " + String.join("; ", problems);
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
