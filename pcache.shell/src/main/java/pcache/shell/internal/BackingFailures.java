package pcache.shell.internal;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Pattern;

import org.osgi.service.component.runtime.ServiceComponentRuntime;
import org.osgi.service.component.runtime.dto.ComponentConfigurationDTO;
import org.osgi.service.component.runtime.dto.ComponentDescriptionDTO;

/**
 * The configured backing devices that did not open: the backing bundles' components (configuration
 * PIDs {@code pcache.backing.*}) whose activation failed, as Declarative Services' runtime keeps
 * them, with the reason. A backing device whose file is locked by another pcache, missing or of the
 * wrong size fails so, and nothing but the log said so: the cache only waits for a backing device.
 */
final class BackingFailures {

    /** The configuration PIDs of backing device components begin so. */
    static final String BACKING_PID_PREFIX = "pcache.backing.";

    /** Exception class names in front of a message: {@code a.b.SomeException: }. */
    private static final Pattern THROWABLE_PREFIX = Pattern.compile(
            "^(?:[A-Za-z_$][\\w$]*\\.)+[A-Za-z_$][\\w$]*(?:Exception|Error|Throwable): ");

    /** A backing device (its configured {@code name}) that did not open, and why. */
    record Failure(String name, String reason) {
    }

    private BackingFailures() {
    }

    /** The failed backing devices {@code runtime} knows of, by name; none without a runtime. */
    static List<Failure> of(ServiceComponentRuntime runtime) {
        List<Failure> failures = new ArrayList<>();
        if (runtime == null) {
            return failures;
        }
        try {
            for (ComponentDescriptionDTO description : runtime.getComponentDescriptionDTOs()) {
                if (!isBacking(description)) {
                    continue;
                }
                for (ComponentConfigurationDTO c : runtime.getComponentConfigurationDTOs(description)) {
                    if (c.state == ComponentConfigurationDTO.FAILED_ACTIVATION) {
                        failures.add(new Failure(name(c), reason(c.failure)));
                    }
                }
            }
        } catch (RuntimeException e) { // the runtime going away: nothing to say
            return List.of();
        }
        failures.sort(Comparator.comparing(Failure::name));
        return failures;
    }

    static boolean isBacking(ComponentDescriptionDTO description) {
        if (description.configurationPid == null) {
            return false;
        }
        for (String pid : description.configurationPid) {
            if (pid != null && pid.startsWith(BACKING_PID_PREFIX)) {
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
     * The first line of {@code failure} (a stack trace, as Declarative Services keeps it) without
     * the exception class names in front of its message.
     */
    static String reason(String failure) {
        if (failure == null || failure.isBlank()) {
            return "its activation failed; the log says why";
        }
        String line = failure.strip().lines().findFirst().orElse("").strip();
        String stripped = THROWABLE_PREFIX.matcher(line).replaceFirst("");
        while (!stripped.equals(line)) {
            line = stripped;
            stripped = THROWABLE_PREFIX.matcher(line).replaceFirst("");
        }
        return line;
    }
}
