package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.Test;

import pcache.launcher.LaunchArguments.Mode;

class LaunchArgumentsTest {

    @Test
    void noArgumentsMeansInteractiveOnEmbeddedDefaults() throws Exception {
        LaunchArguments a = LaunchArguments.parse();
        assertEquals(new LaunchArguments(Mode.INTERACTIVE, "", Optional.empty(), Map.of(), 0), a);
    }

    @Test
    void commandWithConfigOverridesAndVerbosity() throws Exception {
        LaunchArguments a = LaunchArguments.parse("--config", "my.properties", "-Dcache.c.gc_percent=50",
                "-vv", "-c", "pcache:list", "-Dnbd.listen=unix:x=y");
        assertEquals(Mode.COMMAND, a.mode());
        assertEquals("pcache:list", a.command());
        assertEquals(Optional.of(Path.of("my.properties")), a.configFile());
        assertEquals(Map.of("cache.c.gc_percent", "50", "nbd.listen", "unix:x=y"), a.overrides());
        assertEquals(2, a.verbosity());
    }

    @Test
    void configWithEqualsSign() throws Exception {
        assertEquals(Optional.of(Path.of("a.properties")), LaunchArguments.parse("--config=a.properties").configFile());
    }

    @Test
    void ctlTakesTheRestOfTheLine() throws Exception {
        LaunchArguments a = LaunchArguments.parse("-Dpcache.data=/srv", "ctl", "pcache:list", "-h");
        assertEquals(Mode.CONTROL, a.mode());
        assertEquals("pcache:list -h", a.command());
        assertEquals(Map.of("pcache.data", "/srv"), a.overrides());
    }

    @Test
    void noShell() throws Exception {
        assertEquals(Mode.SERVICE, LaunchArguments.parse("--no-shell", "-v").mode());
    }

    @Test
    void helpWinsOverEverything() throws Exception {
        assertEquals(Mode.HELP, LaunchArguments.parse("-c", "lb", "--help").mode());
        assertTrue(LaunchArguments.usage().contains("ctl \"COMMAND\""));
    }

    @Test
    void mistakesSayWhatWasExpected() {
        assertMessage("-c needs a Gogo command line, e.g. -c \"pcache:list\"", "-c");
        assertMessage("-c needs a Gogo command line, e.g. -c \"pcache:list\", got an empty value", "-c", " ");
        assertMessage("--no-shell cannot be combined with -c", "-c", "lb", "--no-shell");
        assertMessage("-c given twice", "-c", "lb", "-c", "lb");
        assertMessage("--config given twice", "--config", "a", "--config", "b");
        assertMessage("ctl needs a command, e.g. ctl \"pcache:list\"", "ctl");
        assertMessage("bad argument '-D=x': expected -Dkey=value", "-D=x");
        assertMessage("bad argument '-Dfoo': expected -Dkey=value", "-Dfoo");
        assertMessage("unknown argument 'lb': expected -c COMMAND, --no-shell, --config FILE, -Dkey=value, -v, "
                + "--help or ctl COMMAND", "lb");
    }

    private static void assertMessage(String message, String... args) {
        UsageException e = assertThrows(UsageException.class, () -> LaunchArguments.parse(args));
        assertEquals(message, e.getMessage());
    }
}
