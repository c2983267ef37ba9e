package pcache.export.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The bounded fuzz slice CI runs: the same targets and invariants as {@link NbdFuzzTest}, fed by
 * a seeded mutator instead of Jazzer's engine, a few seconds per target. The committed seeds and
 * regression inputs start the pool. Longer: {@code -Dpcache.fuzz.slice.inputs=N} (and
 * {@code -Dpcache.fuzz.slice.seed=S} to reproduce a reported failure).
 */
@Timeout(120)
class NbdFuzzSliceTest {
    static final int INPUTS = Integer.getInteger("pcache.fuzz.slice.inputs", 2500);
    static final long SEED = Long.getLong("pcache.fuzz.slice.seed", 20261126L);

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

    @Test
    void handshakeStreams() throws IOException {
        List<byte[]> pool = new ArrayList<>(SeedCorpus.handshakeSeeds().values());
        pool.addAll(SeedCorpus.committedInputs("handshake"));
        SessionDriver driver = new SessionDriver();
        Map<SessionDriver.End, Integer> ends = run(pool, input -> {
            driver.reset();
            SessionDriver.End end = driver.runHandshake(input);
            driver.checkStillServes();
            return end;
        });
        // the slice must reach every way a handshake can end, or it tests less than it claims
        assertTrue(ends.keySet().containsAll(List.of(SessionDriver.End.HANDSHAKE_ENDED, SessionDriver.End.TRUNCATED,
                SessionDriver.End.DISCONNECTED, SessionDriver.End.DISC)), "ends reached: " + ends);
    }

    @Test
    void transmissionStreams() throws IOException {
        List<byte[]> pool = new ArrayList<>(SeedCorpus.transmissionSeeds().values());
        pool.addAll(SeedCorpus.committedInputs("transmission"));
        SessionDriver driver = new SessionDriver();
        Map<SessionDriver.End, Integer> ends = run(pool, input -> {
            driver.reset();
            SessionDriver.End end = SessionDriver.End.TRUNCATED;
            if (input.length > 0) {
                boolean structured = (input[0] & 1) != 0;
                end = driver.runTransmission(Arrays.copyOfRange(input, 1, input.length), structured,
                        (input[0] & 2) != 0, structured && (input[0] & 4) != 0);
            }
            driver.checkStillServes();
            return end;
        });
        assertTrue(ends.keySet().containsAll(List.of(SessionDriver.End.TRUNCATED, SessionDriver.End.DISCONNECTED,
                SessionDriver.End.DISC)), "ends reached: " + ends);
    }

    private interface Target {
        SessionDriver.End run(byte[] input) throws IOException;
    }

    private static Map<SessionDriver.End, Integer> run(List<byte[]> pool, Target target) throws IOException {
        Map<SessionDriver.End, Integer> ends = new EnumMap<>(SessionDriver.End.class);
        for (byte[] input : pool) {
            ends.merge(target.run(input), 1, Integer::sum);
        }
        Mutator mutator = new Mutator(new Random(SEED), pool, 16 << 10);
        for (int i = 0; i < INPUTS; i++) {
            byte[] input = mutator.next();
            try {
                ends.merge(target.run(input), 1, Integer::sum);
            } catch (IOException | RuntimeException | AssertionError e) {
                throw new AssertionError("input #" + i + " (seed " + SEED + "): " + e + "\ninput: "
                        + java.util.HexFormat.of().formatHex(input), e);
            }
        }
        return ends;
    }
}
