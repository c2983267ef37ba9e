package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Web Console's credentials: generated once with mode 0600, reused, a configured file checked. */
class ConsoleCredentialsFileTest {

    @TempDir
    Path dir;

    private PcacheSettings settings(String... more) throws ConfigException {
        Map<String, String> values = new java.util.HashMap<>(Map.of("pcache.data", dir.toString(), "http.listen",
                "127.0.0.1:8080"));
        for (int i = 0; i < more.length; i += 2) {
            values.put(more[i], more[i + 1]);
        }
        return SettingsParser.parse(values);
    }

    private static String passwordLine(Path file) throws Exception {
        List<String> lines = Files.readAllLines(file).stream().filter(l -> !l.startsWith("#")).toList();
        assertEquals(1, lines.size(), lines.toString());
        return lines.get(0);
    }

    @Test
    void generatedOnceOwnerOnlyThenReused() throws Exception {
        PcacheSettings s = settings();
        Path file = dir.resolve("console-credentials");
        assertEquals(new ConsoleCredentialsFile.Prepared(file, true), ConsoleCredentialsFile.prepare(s));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        String line = passwordLine(file);
        assertTrue(line.matches("admin:[A-Za-z0-9_-]{32}"), "admin and 192 random bits: " + line.length());
        assertFalse(line.equals("admin:admin"));

        assertEquals(new ConsoleCredentialsFile.Prepared(file, false), ConsoleCredentialsFile.prepare(s));
        assertEquals(line, passwordLine(file), "the same password at the next start");

        Files.delete(file);
        ConsoleCredentialsFile.prepare(s);
        assertFalse(line.equals(passwordLine(file)), "a new password once deleted");
    }

    @Test
    void aFileOthersCanReadIsRefusedWithWhatToDo() throws Exception {
        Path file = Files.writeString(dir.resolve("console-credentials"), "admin:x\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        LaunchException e = assertThrows(LaunchException.class, () -> ConsoleCredentialsFile.prepare(settings()));
        assertEquals("Web Console credentials " + file + ": can be read or written by others (mode rw-r--r--); run chmod"
                + " 600 " + file + " or delete it to have a new password generated", e.getMessage());
    }

    @Test
    void aConfiguredFileIsUsedAsItIsAndMustExist() throws Exception {
        Path mine = dir.resolve("mine");
        LaunchException missing = assertThrows(LaunchException.class,
                () -> ConsoleCredentialsFile.prepare(settings("http.console_credentials", "mine")));
        assertTrue(missing.getMessage().startsWith("Web Console credentials " + mine + ": does not exist; write one"
                + " line USER:PASSWORD into it (chmod 600), or remove http.console_credentials"), missing.getMessage());
        assertFalse(Files.exists(mine), "a configured file is never generated");

        Files.writeString(mine, "ops:correct horse\n");
        Files.setPosixFilePermissions(mine, PosixFilePermissions.fromString("rw-------"));
        PcacheSettings s = settings("http.console_credentials", "mine");
        assertEquals(new ConsoleCredentialsFile.Prepared(mine, false), ConsoleCredentialsFile.prepare(s));
        assertEquals("ops:correct horse", passwordLine(mine));
        assertEquals(Map.of("credentials_file", mine.toString()), WebConsole.provider(s.consoleCredentialsFile())
                .properties());
    }

    @Test
    void theBuiltInLoginGetsARandomPasswordAtEveryStart() {
        Object first = WebConsole.manager().properties().get("password");
        Object second = WebConsole.manager().properties().get("password");
        assertFalse(first.equals(second));
        assertFalse("admin".equals(first));
        assertFalse("admin".equals(WebConsole.manager().properties().get("username")));
    }
}
