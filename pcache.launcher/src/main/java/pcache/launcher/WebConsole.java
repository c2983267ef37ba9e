package pcache.launcher;

import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * How the Apache Felix Web Console runs (with {@code http.listen} only, like everything HTTP): at
 * {@value HttpListen#CONSOLE_PATH}, closed until pcache's own security provider (bundle
 * pcache.webconsole, id {@value #PROVIDER_ID}) is registered, which checks HTTP Basic against the
 * credentials file ({@link ConsoleCredentialsFile}). The console's built-in login
 * ({@code admin}/{@code admin} by default) is outranked by pcache's provider and gets a random
 * password that nobody knows on top, so it can never let anybody in.
 */
final class WebConsole {

    /** The framework property that keeps the console closed until the named providers exist. */
    static final String REQUIRED_PROVIDERS = "felix.webconsole.security.providers";
    /** The id of pcache's security provider. */
    static final String PROVIDER_ID = "pcache";
    /** The configuration of pcache's security provider (bundle pcache.webconsole). */
    static final String PROVIDER_PID = "pcache.webconsole";
    /** The Web Console's own configuration. */
    static final String MANAGER_PID = "org.apache.felix.webconsole.internal.servlet.OsgiManager";

    private static final SecureRandom RANDOM = new SecureRandom();

    private WebConsole() {
    }

    /** The framework properties of the console. */
    static Map<String, String> frameworkProperties() {
        return Map.of(REQUIRED_PROVIDERS, PROVIDER_ID);
    }

    /** The console's configuration: its place, and a built-in login that nobody can use. */
    static ConfigurationRecord manager() {
        byte[] random = new byte[32];
        RANDOM.nextBytes(random);
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("manager.root", HttpListen.CONSOLE_PATH);
        p.put("realm", "pcache Web Console");
        p.put("username", "pcache-built-in-login-disabled");
        p.put("password", Base64.getEncoder().encodeToString(random));
        return new ConfigurationRecord(MANAGER_PID, Optional.empty(), p);
    }

    /** pcache's security provider's configuration: where the credentials are. */
    static ConfigurationRecord provider(Path credentials) {
        return new ConfigurationRecord(PROVIDER_PID, Optional.empty(),
                Map.of("credentials_file", credentials.toString()));
    }
}
