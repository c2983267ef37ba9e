package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.jar.JarFile;

import org.apache.felix.gogo.runtime.activator.Activator;
import org.junit.jupiter.api.Test;
import org.osgi.framework.Constants;
import org.osgi.framework.Version;

class FrameworkPropertiesTest {

    /**
     * The system bundle exports the Gogo runtime of the launcher's class path: exactly the
     * packages its manifest exports, at their versions, so that the shell bundles wire as they
     * would to the runtime bundle.
     */
    @Test
    void systemBundleExportsTheGogoRuntimeAsItsManifestDoes() throws Exception {
        Map<String, Version> exportedBySystemBundle = new TreeMap<>();
        for (String clause : clauses(FrameworkProperties.staticProperties().get(Constants.FRAMEWORK_SYSTEMPACKAGES_EXTRA))) {
            if (FrameworkProperties.isGogoRuntimeExport(clause)) {
                exportedBySystemBundle.put(name(clause), version(clause));
            }
        }
        Map<String, Version> exportedByJar = new TreeMap<>();
        File jar = new File(Activator.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        try (JarFile j = new JarFile(jar)) {
            for (String clause : clauses(j.getManifest().getMainAttributes().getValue(Constants.EXPORT_PACKAGE))) {
                exportedByJar.put(name(clause), version(clause));
            }
        }
        assertEquals(exportedByJar, exportedBySystemBundle);
        assertEquals(exportedByJar.keySet(), new java.util.TreeSet<>(FrameworkProperties.GOGO_RUNTIME_PACKAGES));
    }

    @Test
    void gogoRuntimeExportsAreTellable() {
        assertTrue(FrameworkProperties.isGogoRuntimeExport("org.apache.felix.service.command;version=1.0.0"));
        assertTrue(FrameworkProperties.isGogoRuntimeExport(" org.apache.felix.gogo.runtime "));
        assertFalse(FrameworkProperties.isGogoRuntimeExport("org.osgi.service.cm;version=1.6.1"));
        assertFalse(FrameworkProperties.isGogoRuntimeExport("org.apache.felix.gogo.command;version=1.1.2"));
    }

    /** The clauses of a manifest header: split at commas outside quotes. */
    private static List<String> clauses(String header) {
        List<String> clauses = new ArrayList<>();
        StringBuilder clause = new StringBuilder();
        boolean quoted = false;
        for (char c : header.toCharArray()) {
            if (c == '"') {
                quoted = !quoted;
            }
            if (c == ',' && !quoted) {
                clauses.add(clause.toString().trim());
                clause.setLength(0);
            } else {
                clause.append(c);
            }
        }
        clauses.add(clause.toString().trim());
        return clauses;
    }

    private static String name(String clause) {
        return clause.split(";", 2)[0].trim();
    }

    private static Version version(String clause) {
        for (String part : clause.split(";")) {
            String p = part.trim();
            if (p.startsWith("version=")) {
                return Version.parseVersion(p.substring("version=".length()).replace("\"", ""));
            }
        }
        return Version.emptyVersion;
    }
}
