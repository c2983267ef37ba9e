package pcache.launcher;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.EnumSet;
import java.util.Set;

/**
 * The Web Console's credentials file: one line {@code USER:PASSWORD} that only its owner may
 * read. A configured file ({@code http.console_credentials}) must exist and be readable by its
 * owner only; without that key the launcher generates {@value PcacheSettings#CONSOLE_CREDENTIALS}
 * in the data directory at the first start (user {@value #USER}, a random password of 192 bits),
 * created with mode 0600, and reuses it at every later start. The password is never printed or
 * logged: the user reads it from the file.
 */
final class ConsoleCredentialsFile {

    /** The user of generated credentials. */
    static final String USER = "admin";
    /** Owner read and write, nothing else (0600). */
    static final Set<PosixFilePermission> OWNER_ONLY = EnumSet.of(PosixFilePermission.OWNER_READ,
            PosixFilePermission.OWNER_WRITE);
    private static final int PASSWORD_BYTES = 24;
    private static final SecureRandom RANDOM = new SecureRandom();

    /**
     * What {@link #prepare} found.
     *
     * @param file the credentials file
     * @param generated whether it was generated now (the first start)
     */
    record Prepared(Path file, boolean generated) {
    }

    private ConsoleCredentialsFile() {
    }

    /**
     * Makes sure the Web Console has credentials: checks a configured file, or generates the
     * default one if it is missing.
     *
     * @throws LaunchException naming the file, what is wrong and what to do
     */
    static Prepared prepare(PcacheSettings settings) throws LaunchException {
        Path file = settings.consoleCredentialsFile();
        boolean configured = settings.consoleCredentials().isPresent();
        try {
            if (!configured && !Files.exists(file)) {
                generate(file);
                return new Prepared(file, true);
            }
            check(file, configured);
            return new Prepared(file, false);
        } catch (IOException e) {
            throw new LaunchException("Web Console credentials " + file + ": " + e.getMessage(), e);
        }
    }

    /** Creates {@code file} with mode 0600 and writes {@code admin:<random password>}; fails if it exists. */
    static void generate(Path file) throws IOException {
        byte[] random = new byte[PASSWORD_BYTES];
        RANDOM.nextBytes(random);
        String password = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
        String content = "# pcache Web Console (" + HttpListen.CONSOLE_PATH + "): USER:PASSWORD, generated at the first"
                + " start.\n# Delete this file and restart pcache for a new password.\n" + USER + ":" + password + "\n";
        try {
            // created with the permissions: it is never readable by others, not even for a moment
            Files.createFile(file, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
        } catch (FileAlreadyExistsException e) {
            throw new IOException("appeared while pcache was generating it; start pcache again", e);
        }
        Files.writeString(file, content, StandardCharsets.UTF_8, StandardOpenOption.TRUNCATE_EXISTING);
    }

    /** A file that exists is a regular file that only its owner may read or write. */
    private static void check(Path file, boolean configured) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IOException(Files.exists(file) ? "is not a regular file; point " + ConfigKeys.HTTP_CONSOLE_CREDENTIALS
                    + " to a file with one line USER:PASSWORD"
                    : "does not exist; write one line USER:PASSWORD into it (chmod 600), or remove "
                            + ConfigKeys.HTTP_CONSOLE_CREDENTIALS + " to have pcache generate one in the data directory");
        }
        Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(file);
        Set<PosixFilePermission> extra = EnumSet.copyOf(permissions);
        extra.removeAll(OWNER_ONLY);
        extra.remove(PosixFilePermission.OWNER_EXECUTE);
        if (!extra.isEmpty()) {
            throw new IOException("can be read or written by others (mode " + PosixFilePermissions.toString(permissions)
                    + "); run chmod 600 " + file + (configured ? "" : " or delete it to have a new password generated"));
        }
        if (!Files.isReadable(file)) {
            throw new IOException("cannot be read by pcache; make it readable by the user pcache runs as");
        }
    }
}
