package pcache.io.scr;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

import org.osgi.framework.Filter;
import org.osgi.framework.FrameworkUtil;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.service.component.runtime.ServiceComponentRuntime;
import org.osgi.service.component.runtime.dto.ComponentConfigurationDTO;
import org.osgi.service.component.runtime.dto.ComponentDescriptionDTO;

import pcache.api.spi.BackingDevice;
import pcache.api.config.BackingProperties;
import pcache.api.config.ConfigPids;

/**
 * The configured backing devices that did not open: the backing bundles' configured components
 * (configuration PIDs {@code pcache.backing.file} and {@code pcache.backing.nbd}) whose activation
 * failed, as Declarative Services' runtime keeps them, with the reason. A backing device whose file
 * is locked by another pcache, missing or of the wrong size, or whose NBD settings are refused, fails
 * so, and nothing but the log said so: the cache only waits for a backing device. An NBD export
 * that is configured well but cannot be reached does not fail so (its device connects in the
 * background) and is not listed.
 *
 * <p>Read by the shell ({@code pcache:list}) and by a cache that waits for its backing device, which
 * stops waiting once every configured backing device its {@code backing.target} selects has failed
 * ({@link #failedFor}). Never exported: bnd copies this package privately into each bundle that uses
 * it ({@code -conditionalpackage}).
 */
public final class BackingFailures {

    /** The configuration PIDs of the configured backing device components. */
    static final java.util.Set<String> BACKING_PIDS = java.util.Set.of(ConfigPids.BACKING_FILE,
            ConfigPids.BACKING_NBD);

    /** Exception class names in front of a message: {@code a.b.SomeException: }. */
    private static final Pattern THROWABLE_PREFIX = Pattern.compile(
            "^(?:[A-Za-z_$][\\w$]*\\.)+[A-Za-z_$][\\w$]*(?:Exception|Error|Throwable): ");
    /** A line of a stack trace that names a throwable and its message, if any. */
    private static final Pattern THROWABLE_LINE = Pattern.compile(
            "^(?:Caused by: )?((?:[A-Za-z_$][\\w$]*\\.)+([A-Za-z_$][\\w$]*(?:Exception|Error|Throwable)))(?:: (.*))?$");
    /** Throwables that only wrap the one that says what failed. */
    private static final java.util.Set<String> WRAPPERS = java.util.Set.of(
            "java.lang.reflect.InvocationTargetException", "java.lang.reflect.UndeclaredThrowableException",
            "org.osgi.service.component.ComponentException", "org.apache.felix.log.LogException");

    /** A backing device (its configured {@code name}) that did not open, and why. */
    public record Failure(String name, String reason) {
    }

    private BackingFailures() {
    }

    /** A configured backing device's component configuration, with the description it belongs to. */
    private record Configured(ComponentDescriptionDTO description, ComponentConfigurationDTO configuration) {

        boolean failed() {
            return configuration.state == ComponentConfigurationDTO.FAILED_ACTIVATION;
        }

        Failure failure() {
            return new Failure(name(configuration), reason(configuration.failure));
        }
    }

    /**
     * Every configuration of the configured backing device components {@code runtime} knows of;
     * null when the runtime fails to answer (going away).
     */
    private static List<Configured> configured(ServiceComponentRuntime runtime) {
        List<Configured> all = new ArrayList<>();
        try {
            for (ComponentDescriptionDTO description : runtime.getComponentDescriptionDTOs()) {
                if (isBacking(description)) {
                    for (ComponentConfigurationDTO c : runtime.getComponentConfigurationDTOs(description)) {
                        all.add(new Configured(description, c));
                    }
                }
            }
        } catch (RuntimeException e) { // the runtime going away: nothing to say
            return null;
        }
        return all;
    }

    /** The failed backing devices {@code runtime} knows of, by name; none without a runtime. */
    public static List<Failure> of(ServiceComponentRuntime runtime) {
        List<Configured> all = runtime == null ? null : configured(runtime);
        if (all == null) {
            return List.of();
        }
        List<Failure> failures = new ArrayList<>();
        all.stream().filter(Configured::failed).forEach(c -> failures.add(c.failure()));
        failures.sort(Comparator.comparing(Failure::name));
        return failures;
    }

    /**
     * Why no backing device that a cache's reference {@code target} (its {@code backing.target}
     * filter) selects will be bound, or null: when the configured backing devices it selects (by
     * the properties their services would carry, as far as they are known before they open) are
     * there and every one of them failed to open, their names and reasons ("backing device NAME cannot be opened: WHY",
     * joined by "; "). Null when none is configured, when one is still active (an NBD export that
     * is connecting), without a runtime, and for a filter that does not parse.
     */
    public static String failedFor(ServiceComponentRuntime runtime, String target) {
        if (runtime == null || target == null) {
            return null;
        }
        Filter filter;
        try {
            filter = FrameworkUtil.createFilter(target);
        } catch (InvalidSyntaxException e) {
            return null;
        }
        List<Configured> all = configured(runtime);
        if (all == null) {
            return null;
        }
        List<Failure> failed = new ArrayList<>();
        for (Configured c : all) {
            boolean selected;
            try {
                selected = filter.match(asService(c.description(), c.configuration().properties));
            } catch (RuntimeException e) { // keys that differ only in case: no answer
                return null;
            }
            if (!selected) {
                continue;
            }
            if (!c.failed()) {
                return null; // it may still bind a device
            }
            failed.add(c.failure());
        }
        if (failed.isEmpty()) {
            return null;
        }
        failed.sort(Comparator.comparing(Failure::name));
        StringBuilder why = new StringBuilder();
        for (Failure f : failed) {
            why.append(why.isEmpty() ? "" : "; ").append("backing device ").append(f.name())
                    .append(" cannot be opened: ").append(f.reason());
        }
        return why.toString();
    }

    /** Configured properties the file backing device does not hand on to its service. */
    private static final java.util.Set<String> NOT_HANDED_ON = java.util.Set.of("component.name", "component.id",
            "service.pid");

    /**
     * The properties a configured backing device's service would carry, as far as they are known
     * before it opens: its name ({@link BackingDevice#NAME}, from the configured {@code name}), its
     * driver ({@link BackingDevice#DRIVER}, from the configuration PID) and {@code objectClass};
     * for a file device also its public configured properties, which it hands on. An NBD device's
     * service carries what it learns from its server too ({@code durable_flush}), which a target may
     * name: such a target matches none here, and the cache waits as before.
     */
    private static Dictionary<String, Object> asService(ComponentDescriptionDTO description,
            Map<String, Object> configured) {
        Hashtable<String, Object> properties = new Hashtable<>();
        boolean file = java.util.Arrays.asList(description.configurationPid).contains(ConfigPids.BACKING_FILE);
        if (file && configured != null) {
            configured.forEach((k, v) -> {
                if (k != null && v != null && !k.startsWith(".") && !NOT_HANDED_ON.contains(k)) {
                    properties.put(k, v);
                }
            });
        }
        Object name = configured == null ? null : configured.get(BackingProperties.NAME);
        if (name != null) {
            properties.put(BackingDevice.NAME, name);
        }
        properties.put(BackingDevice.DRIVER, file ? "file" : "nbd");
        properties.put("objectClass", new String[] {BackingDevice.class.getName()});
        return properties;
    }

    static boolean isBacking(ComponentDescriptionDTO description) {
        if (description.configurationPid == null) {
            return false;
        }
        for (String pid : description.configurationPid) {
            if (BACKING_PIDS.contains(pid)) {
                return true;
            }
        }
        return false;
    }

    /** The configured name, else the configuration's PID. */
    private static String name(ComponentConfigurationDTO c) {
        Object name = c.properties == null ? null : c.properties.get("name");
        if (name != null && !name.toString().isBlank()) {
            return name.toString();
        }
        Object pid = c.properties == null ? null : c.properties.get("service.pid");
        return pid != null ? pid.toString() : "component " + c.id;
    }

    /**
     * What {@code failure} (a stack trace, as Declarative Services keeps it) says failed: the message
     * of its first throwable that is not only a wrapper (an activation through a constructor keeps
     * an {@code InvocationTargetException} whose cause says why), without the exception class names
     * in front of it; with the throwable's simple name where the message is a bare path (a file
     * system exception's) or there is none.
     */
    static String reason(String failure) {
        if (failure == null || failure.isBlank()) {
            return "its activation failed; the log says why";
        }
        List<String> lines = failure.strip().lines().map(String::strip).toList();
        String first = lines.get(0);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (i > 0 && !line.startsWith("Caused by: ")) {
                continue;
            }
            java.util.regex.Matcher m = THROWABLE_LINE.matcher(line);
            if (!m.matches()) {
                if (i == 0) {
                    return stripped(line); // not a throwable's line: a message of its own
                }
                continue;
            }
            if (WRAPPERS.contains(m.group(1))) {
                continue;
            }
            String message = m.group(3) == null ? "" : stripped(m.group(3));
            if (message.isBlank()) {
                return m.group(2);
            }
            if (m.group(1).startsWith("java.nio.file.")) { // NoSuchFileException and the like: the path alone
                return m.group(2) + ": " + message;
            }
            return message;
        }
        return stripped(first);
    }

    /** {@code line} without the exception class names in front of it. */
    private static String stripped(String line) {
        String stripped = THROWABLE_PREFIX.matcher(line).replaceFirst("");
        while (!stripped.equals(line)) {
            line = stripped;
            stripped = THROWABLE_PREFIX.matcher(line).replaceFirst("");
        }
        return line;
    }
}
