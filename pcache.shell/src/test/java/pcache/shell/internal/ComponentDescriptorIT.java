package pcache.shell.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.jar.JarFile;
import java.util.zip.ZipEntry;

import javax.xml.parsers.DocumentBuilderFactory;

import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * Checks the DS descriptor bnd generated into the bundle (runs after packaging): the Gogo
 * function list of {@code @GogoCommand} (CLASS retention, so only visible here) must name every
 * {@link CommandSpec}, and the references must stay optional and dynamic so the shell works
 * with no cache configured.
 */
class ComponentDescriptorIT {

    private static Document descriptor() throws Exception {
        Path bundle = Path.of(System.getProperty("pcache.shell.bundle", "target/pcache.shell.jar"));
        try (JarFile jar = new JarFile(bundle.toFile())) {
            ZipEntry entry = jar.getEntry("OSGI-INF/" + PcacheCommands.class.getName() + ".xml");
            assertNotNull(entry, "no DS descriptor for PcacheCommands in " + bundle);
            try (InputStream in = jar.getInputStream(entry)) {
                DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
                f.setNamespaceAware(true);
                return f.newDocumentBuilder().parse(in);
            }
        }
    }

    @Test
    void gogoFunctionsAreExactlyTheCommandSpecs() throws Exception {
        Map<String, String> properties = new HashMap<>();
        NodeList nodes = descriptor().getElementsByTagName("property");
        for (int i = 0; i < nodes.getLength(); i++) {
            Element p = (Element) nodes.item(i);
            properties.put(p.getAttribute("name"),
                    p.hasAttribute("value") ? p.getAttribute("value") : p.getTextContent().trim());
        }
        assertEquals(CommandSpec.SCOPE, properties.get("osgi.command.scope"));
        List<String> functions = Arrays.stream(properties.get("osgi.command.function").split("\\s+")).sorted().toList();
        // hyphenated functions are Function services the component registers itself
        List<String> specs = Arrays.stream(CommandSpec.values()).filter(s -> !s.viaFunctionService())
                .map(CommandSpec::function).sorted().toList();
        assertEquals(specs, functions);
    }

    @Test
    void referencesAreOptionalAndDynamic() throws Exception {
        NodeList refs = descriptor().getElementsByTagName("reference");
        for (int i = 0; i < refs.getLength(); i++) {
            Element r = (Element) refs.item(i);
            assertTrue(r.getAttribute("cardinality").startsWith("0.."), r.getAttribute("name"));
            assertEquals("dynamic", r.getAttribute("policy"), r.getAttribute("name"));
        }
    }
}
