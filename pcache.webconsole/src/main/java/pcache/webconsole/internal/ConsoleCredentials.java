package pcache.webconsole.internal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;

/**
 * The one user of the Web Console and a digest of its password, read from the credentials file.
 * The file holds one line {@code USER:PASSWORD} (the user has no colon; lines starting with
 * {@code #} and blank lines are ignored), the form HTTP Basic sends. Only SHA-256 digests of the
 * password are kept and compared, in time independent of where they differ.
 *
 * @param user the user name
 * @param passwordDigest SHA-256 of the password's UTF-8 bytes
 */
record ConsoleCredentials(String user, byte[] passwordDigest) {

    /**
     * Reads {@code file}.
     *
     * @throws IOException when it cannot be read or holds no {@code USER:PASSWORD} line (the
     *         message names the file and what to put in it, never its content)
     */
    static ConsoleCredentials read(Path file) throws IOException {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (java.nio.file.NoSuchFileException e) {
            throw malformed(file, "it does not exist");
        } catch (IOException e) {
            throw malformed(file, "it cannot be read (" + e + ")");
        }
        String entry = null;
        for (String line : lines) {
            String l = line.strip();
            if (l.isEmpty() || l.startsWith("#")) {
                continue;
            }
            if (entry != null) {
                throw malformed(file, "it has more than one USER:PASSWORD line");
            }
            entry = l;
        }
        if (entry == null) {
            throw malformed(file, "it has no USER:PASSWORD line");
        }
        return parse(entry).orElseThrow(() -> malformed(file,
                "its line is not USER:PASSWORD with a non-empty user and password"));
    }

    /** {@code USER:PASSWORD}, or empty when either part is missing. */
    static java.util.Optional<ConsoleCredentials> parse(String userPass) {
        int colon = userPass.indexOf(':');
        if (colon <= 0 || colon == userPass.length() - 1) {
            return java.util.Optional.empty();
        }
        return java.util.Optional.of(new ConsoleCredentials(userPass.substring(0, colon),
                digest(userPass.substring(colon + 1))));
    }

    private static IOException malformed(Path file, String what) {
        return new IOException("Web Console credentials file " + file + " is unusable: " + what
                + "; write one line USER:PASSWORD, or delete the file and restart pcache to generate one");
    }

    /**
     * Whether {@code user} and {@code password} are these credentials. Both are compared in full,
     * the password as a digest with {@link MessageDigest#isEqual}: the time taken does not tell
     * how much of either was right.
     */
    boolean accepts(String user, String password) {
        boolean userOk = MessageDigest.isEqual(digest(user), digest(this.user));
        boolean passwordOk = MessageDigest.isEqual(digest(password), passwordDigest);
        return userOk & passwordOk;
    }

    static byte[] digest(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this Java runtime", e);
        }
    }

    /** Never shows the digest. */
    @Override
    public String toString() {
        return "ConsoleCredentials[user=" + user + "]";
    }
}
