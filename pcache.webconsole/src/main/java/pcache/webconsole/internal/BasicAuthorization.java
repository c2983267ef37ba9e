package pcache.webconsole.internal;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Optional;

/**
 * The user and password of an HTTP {@code Authorization: Basic ...} header.
 *
 * @param user the user
 * @param password the password
 */
record BasicAuthorization(String user, String password) {

    /** The header's user and password; empty when it is absent, not Basic or not {@code base64(USER:PASSWORD)}. */
    static Optional<BasicAuthorization> parse(String header) {
        if (header == null) {
            return Optional.empty();
        }
        String h = header.strip();
        if (h.length() < 6 || !h.regionMatches(true, 0, "Basic ", 0, 6)) {
            return Optional.empty();
        }
        String decoded;
        try {
            decoded = new String(Base64.getDecoder().decode(h.substring(6).strip()), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
        int colon = decoded.indexOf(':');
        if (colon < 0) {
            return Optional.empty();
        }
        return Optional.of(new BasicAuthorization(decoded.substring(0, colon), decoded.substring(colon + 1)));
    }

    /** Never shows the password. */
    @Override
    public String toString() {
        return "BasicAuthorization[user=" + user + "]";
    }
}
