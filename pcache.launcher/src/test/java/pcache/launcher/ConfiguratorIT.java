package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import pcache.api.config.CacheDefinition;

/**
 * Caches defined the OSGi way: a bundle carrying {@code OSGI-INF/configurator/caches.json} (the
 * OSGi Configurator, Felix's, in the distribution) added to the distribution's bundles. Its
 * configurations are the ones the launcher and {@code pcache:create} make (factory PIDs
 * {@code pcache.backing.file} and {@code pcache.target}, the same keys): the good cache opens and
 * serves qemu-io over the export; the bad one (a 256 MiB cache device) is refused by the cache
 * component with the message every other way of configuring gets. Every wait is bounded.
 */
@Timeout(120)
class ConfiguratorIT {

    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    /** A bundle of nothing but configurations, for the Configurator. */
    private Path configurationBundle(String json) throws IOException {
        Manifest manifest = new Manifest();
        Attributes main = manifest.getMainAttributes();
        main.put(Attributes.Name.MANIFEST_VERSION, "1.0");
        main.putValue("Bundle-ManifestVersion", "2");
        main.putValue("Bundle-SymbolicName", "demo.caches");
        main.putValue("Bundle-Version", "1.0.0");
        main.putValue("Require-Capability", "osgi.extender;filter:=\"(&(osgi.extender=osgi.configurator)"
                + "(version>=1.0)(!(version>=2.0)))\"");
        Path jar = dir.resolve("demo.caches.jar");
        try (OutputStream out = Files.newOutputStream(jar); JarOutputStream j = new JarOutputStream(out, manifest)) {
            j.putNextEntry(new JarEntry("OSGI-INF/configurator/caches.json"));
            j.write(json.getBytes(StandardCharsets.UTF_8));
            j.closeEntry();
        }
        return jar;
    }

    /** {@code pcache.home} with the distribution's bundles and {@code extra}. */
    private Path homeWith(Path extra) throws IOException {
        Path home = dir.resolve("home");
        Path bundles = Files.createDirectories(home.resolve("bundles"));
        try (DirectoryStream<Path> jars = Files.newDirectoryStream(PcacheProcess.DISTRIBUTION.resolve("bundles"),
                "*.jar")) {
            for (Path jar : jars) {
                Files.copy(jar, bundles.resolve(jar.getFileName()));
            }
        }
        Files.copy(extra, bundles.resolve(extra.getFileName()));
        return home;
    }

    @Test
    void aConfigurationBundleDefinesCachesValidatedAsEveryOtherWay() throws Exception {
        ExternalTools.assumeInstalled("qemu-io");
        Path dev = Files.createDirectories(dir.resolve("dev"));
        String json = """
                {
                  ":configurator:resource-version": 1,
                  "pcache.backing.file~json.backing": {
                    "name": "json.backing", "path": "%1$s/json.backing", "size_bytes:Long": 16777216, "create": true
                  },
                  "pcache.target~json": {
                    "name": "json", "cache_dev": "%1$s/json.cache", "cache_dev_size_bytes:Long": 536870912,
                    "gc_percent:Integer": 60, "backing.target": "(pcache.backing.name=json.backing)"
                  },
                  "pcache.target~tiny": {
                    "name": "tiny", "cache_dev": "%1$s/tiny.cache", "cache_dev_size_bytes:Long": 268435456,
                    "backing.target": "(pcache.backing.name=json.backing)"
                  }
                }
                """.formatted(dev);
        Path home = homeWith(configurationBundle(json));
        PcacheProcess pcache = PcacheProcess.configure(dir, Optional.empty(), "", "-Dpcache.home=" + home);
        ExternalTools tools = new ExternalTools(dir);
        try {
            pcache.startServing("json");
            PcacheProcess.CtlResult status = pcache.ctl("pcache:status json");
            assertTrue(status.out().contains("gc_percent  60"), status.out() + status.err());
            assertTrue(status.out().contains("file:" + dev.resolve("json.backing")), status.out());
            tools.qemuIo(WAIT, pcache.unixUri("json"), true, List.of("write -P 0x6b 0 1M", "read -P 0x6b 0 1M"));

            // the same refusal as for a configuration made any other way, from the same check
            String expected = "cache tiny: " + String.join("; ", CacheDefinition.targetProblems("tiny",
                    dev.resolve("tiny.cache").toString(), 268435456L, "writeback", 70, 30_000));
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (!pcache.log().contains(expected)) {
                if (System.nanoTime() > deadline) {
                    fail("no refusal '" + expected + "' in the log:\n" + pcache.log() + "\nlog service:\n"
                            + pcache.ctl("log 100 debug").out());
                }
                Thread.sleep(100);
            }
            assertTrue(Files.notExists(dev.resolve("tiny.cache")), "the refused cache made a device");
        } finally {
            tools.close();
            if (pcache.isAlive()) {
                assertEquals(0, pcache.stop(), pcache.log());
            }
        }
    }
}
