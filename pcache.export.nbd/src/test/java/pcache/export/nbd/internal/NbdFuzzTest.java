package pcache.export.nbd.internal;

import java.io.IOException;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Coverage-guided fuzz targets (Jazzer) for the server's decoding of client bytes, driven in
 * memory through the real classes by {@link SessionDriver}, which holds the invariants.
 *
 * <p>Under plain {@code mvn verify} each method runs once per committed input in
 * {@code src/test/resources/pcache/export/nbd/internal/NbdFuzzTestInputs/<method>/} (seeds and
 * every crash ever found). To fuzz, one method per run (see docs/RELIABILITY.md):
 * <pre>
 * JAZZER_FUZZ=1 ./mvnw -B -pl pcache.export.nbd -am test -Dtest=NbdFuzzTest#handshake \
 *     -Dsurefire.failIfNoSpecifiedTests=false -DargLine=-Xmx1g
 * </pre>
 * A run stops after {@value #EXECUTIONS} inputs or {@value #DURATION}; a finding is written into
 * the inputs directory and becomes a regression input once committed.
 */
class NbdFuzzTest {
    static final long EXECUTIONS = 1_200_000;
    /** Reused (and reset) for every input: allocating devices per input halves the speed. */
    private static final SessionDriver DRIVER = new SessionDriver();
    static final String DURATION = "3h";

    /** Malformed input is logged as warnings by design; millions of them would drown the run. */
    private static final Logger SERVER_LOG = Logger.getLogger("pcache.export.nbd.internal");
    private static Level savedLevel;

    @BeforeAll
    static void quietServerLog() {
        savedLevel = SERVER_LOG.getLevel();
        SERVER_LOG.setLevel(Level.SEVERE);
    }

    @AfterAll
    static void restoreServerLog() {
        SERVER_LOG.setLevel(savedLevel);
    }

    /** Everything a client sends after the greeting: flags, options and, past GO, requests. */
    @FuzzTest(maxDuration = DURATION, maxExecutions = EXECUTIONS)
    void handshake(byte[] input) throws IOException {
        SessionDriver driver = DRIVER;
        driver.reset();
        driver.runHandshake(input);
        driver.checkStillServes();
    }

    /**
     * The transmission phase directly. First byte: bit 0 structured replies, bit 1 export
     * "other" (64 KiB) instead of "disk" (256 KiB), bit 2 base:allocation selected (only
     * with bit 0, as in the real handshake); the rest is
     * the request stream.
     */
    @FuzzTest(maxDuration = DURATION, maxExecutions = EXECUTIONS)
    void transmission(byte[] input) throws IOException {
        SessionDriver driver = DRIVER;
        driver.reset();
        if (input.length > 0) {
            int selector = input[0];
            byte[] requests = java.util.Arrays.copyOfRange(input, 1, input.length);
            boolean structured = (selector & 1) != 0;
            // base:allocation can only be selected after structured replies (Handshake refuses otherwise)
            driver.runTransmission(requests, structured, (selector & 2) != 0, structured && (selector & 4) != 0);
        }
        driver.checkStillServes();
    }
}
