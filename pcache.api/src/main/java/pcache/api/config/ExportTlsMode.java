package pcache.api.config;

import java.util.Locale;
import java.util.Optional;

/** TLS on the NBD export, as nbdkit's and qemu-nbd's {@code --tls} modes have it. */
public enum ExportTlsMode {
    /** STARTTLS is refused; everything is clear text. */
    OFF,
    /** STARTTLS is offered; clients that do not ask for it are served in clear text. */
    ON,
    /** Every option but STARTTLS and ABORT is refused until TLS is up; no export is served in clear text. */
    REQUIRE;

    /** What {@link #byName} accepts, for messages. */
    public static final String EXPECTED = "off, on or require";

    /** Its name in configurations: {@code off}, {@code on}, {@code require}. */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The mode named {@code name} (case ignored). */
    public static Optional<ExportTlsMode> byName(String name) {
        for (ExportTlsMode m : values()) {
            if (m.configName().equalsIgnoreCase(name.trim())) {
                return Optional.of(m);
            }
        }
        return Optional.empty();
    }
}
