package pcache.launcher;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * One ConfigAdmin configuration to create: a factory configuration
 * ({@code getFactoryConfiguration(pid, name, "?")}) when {@code factoryName} is present, else a
 * singleton configuration ({@code getConfiguration(pid, "?")}).
 *
 * @param pid the factory PID, or the PID of a singleton configuration
 * @param factoryName the stable name of a factory configuration
 * @param properties the dictionary; values are String, Long, Integer, Boolean or String[]
 */
public record ConfigurationRecord(String pid, Optional<String> factoryName, Map<String, Object> properties) {

    public ConfigurationRecord {
        properties = Collections.unmodifiableMap(new LinkedHashMap<>(properties));
    }

    /** The PID ConfigAdmin gives this configuration: {@code factoryPid~name} or the plain PID. */
    public String effectivePid() {
        return factoryName.map(n -> pid + "~" + n).orElse(pid);
    }
}
