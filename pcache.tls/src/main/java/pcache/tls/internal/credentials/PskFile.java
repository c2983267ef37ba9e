package pcache.tls.internal.credentials;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import pcache.api.tls.TlsConfigurationException;

/**
 * A pre-shared-key file as psktool, nbdkit and qemu use it: one {@code identity:hexkey} per line.
 * Empty lines are skipped; anything else malformed is refused with its file and line.
 *
 * @param file where the keys came from, for messages
 * @param keys key bytes by identity, in file order
 */
public record PskFile(Path file, Map<String, byte[]> keys) {

    /** Reads and checks {@code file}. */
    public static PskFile read(Path file) throws TlsConfigurationException {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new TlsConfigurationException("PSK file " + file + " does not exist (make one with"
                    + " psktool -u IDENTITY -p " + file + ")");
        } catch (IOException e) {
            throw new TlsConfigurationException("cannot read PSK file " + file + ": " + e, e);
        }
        Map<String, byte[]> keys = new LinkedHashMap<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.isBlank()) {
                continue;
            }
            String where = file + ":" + (i + 1);
            int colon = line.indexOf(':');
            if (colon <= 0) {
                throw new TlsConfigurationException(where + ": expected identity:hexkey");
            }
            String identity = line.substring(0, colon);
            String hex = line.substring(colon + 1).strip();
            for (int c = 0; c < hex.length(); c++) {
                if (!HexFormat.isHexDigit(hex.charAt(c))) { // ASCII hex only; the key itself is never shown
                    throw new TlsConfigurationException(where + ": the key of '" + identity + "' holds a character"
                            + " that is not a hex digit at position " + (c + 1) + " (write the key as hex digits"
                            + " only, without 0x or spaces)");
                }
            }
            if (hex.length() % 2 != 0) {
                throw new TlsConfigurationException(where + ": the key of '" + identity
                        + "' is not an even number of hex digits");
            }
            byte[] key = HexFormat.of().parseHex(hex);
            if (key.length == 0) {
                throw new TlsConfigurationException(where + ": the key of '" + identity + "' is empty");
            }
            if (keys.putIfAbsent(identity, key) != null) {
                throw new TlsConfigurationException(where + ": identity '" + identity + "' appears twice");
            }
        }
        if (keys.isEmpty()) {
            throw new TlsConfigurationException("PSK file " + file + " holds no identity:hexkey line");
        }
        PemFiles.warnIfReadableByOthers(file);
        return new PskFile(file, Collections.unmodifiableMap(keys));
    }

    /**
     * A copy of the key of {@code identity}, or null if the file lacks it. A copy, because TLS
     * libraries wipe the key they are given once they have derived their secrets from it
     * (Bouncy Castle's TLS 1.2 PSK key exchange fills it with zeros).
     */
    public byte[] key(String identity) {
        byte[] key = keys.get(identity);
        return key == null ? null : key.clone();
    }

    /** The keys by identity, in file order: copies, as {@link #key} gives them. */
    @Override
    public Map<String, byte[]> keys() {
        Map<String, byte[]> copies = new java.util.LinkedHashMap<>();
        keys.forEach((identity, key) -> copies.put(identity, key.clone()));
        return Collections.unmodifiableMap(copies);
    }

    /** The first identity in the file. */
    public String firstIdentity() {
        return keys.keySet().iterator().next();
    }
}
