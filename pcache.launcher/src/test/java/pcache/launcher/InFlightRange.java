package pcache.launcher;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Random;
import java.util.stream.Collectors;

/**
 * The range written, unflushed, while the kill strikes: a writer ({@code sector_versions.py},
 * libnbd) puts 64 KiB blocks there whose every sector names itself (its sector number, the cycle
 * and the serial number of the write). After the restart each sector must hold either what the
 * last check read there or a version the writer of this cycle wrote to that very sector; foreign
 * bytes (another sector's data, a torn sector, an older version than the last check) fail.
 */
final class InFlightRange {

    static final int SECTOR = 512;
    static final int BLOCK = 64 * 1024;
    private static final int RECORD = 32; // "PCKILLv1", sector, cycle, serial: 16 copies per sector
    private static final byte[] MAGIC = "PCKILLv1".getBytes(StandardCharsets.US_ASCII);
    private static final int PLAN_WRITES = 4096;

    /** What one check found: sectors as before, sectors holding a version of the last writer. */
    record Check(int unchanged, int newVersions) {
    }

    private final long base;
    private final int length;
    private final Path dir;
    private byte[] previous;
    private int cycle = -1;
    private int[] plan = new int[0];
    private long submitted = Long.MAX_VALUE; // unknown until the writer reports it
    private Path script;

    /** {@code [base, base + length)}, all zeroes at first; the writer's files go to {@code dir}. */
    InFlightRange(long base, int length, Path dir) {
        this.base = base;
        this.length = length;
        this.dir = dir;
        this.previous = new byte[length];
    }

    /** The bytes the last check accepted (what write-back must put on the backing device). */
    byte[] expected() {
        return previous.clone();
    }

    /** Draws the blocks the writer of {@code cycle} writes: write number k goes to plan[k % plan.length]. */
    int[] newCycle(int cycle, Random random) {
        this.cycle = cycle;
        this.plan = random.ints(PLAN_WRITES, 0, length / BLOCK).toArray();
        this.submitted = Long.MAX_VALUE;
        return plan.clone();
    }

    /** The writer submitted {@code writes} writes (serials 0 .. writes - 1). */
    void submitted(long writes) {
        this.submitted = writes;
    }

    /**
     * Starts the writer of {@code cycle} on {@code uri} ({@code depth} writes in flight) and
     * returns once its first write has been acknowledged.
     */
    Process startWriter(ExternalTools tools, String uri, int cycle, Random random) throws Exception {
        newCycle(cycle, random);
        Path planFile = Files.writeString(dir.resolve("plan-" + cycle),
                Arrays.stream(plan).mapToObj(Integer::toString).collect(Collectors.joining("\n", "", "\n")));
        Path status = status(cycle);
        Process writer = tools.start("python3", script().toString(), "write", uri, Long.toString(base),
                Integer.toString(length), planFile.toString(), Integer.toString(cycle), "8", status.toString());
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!(Files.exists(status) && Files.readString(status).startsWith("writing"))) {
            if (!writer.isAlive() || System.nanoTime() > deadline) {
                fail("the in-flight writer did not start writing (exit " + (writer.isAlive() ? "-" : writer.exitValue())
                        + "); see " + dir);
            }
            Thread.sleep(20);
        }
        return writer;
    }

    /** How far a writer got: writes submitted and acknowledged (-1 when it did not say). */
    record Writer(long submitted, long acknowledged) {
    }

    /** After the writer ended: how far it got; its submitted count bounds the serials checked. */
    Writer writerEnded() throws IOException {
        String text = Files.readString(status(cycle));
        for (String line : text.split("\n")) {
            String[] words = line.trim().split(" ");
            if (words.length == 4 && words[0].equals("submitted") && words[2].equals("acknowledged")) {
                submitted(Long.parseLong(words[1]));
                return new Writer(Long.parseLong(words[1]), Long.parseLong(words[3]));
            }
        }
        return new Writer(-1, -1);
    }

    /**
     * Reads the range through {@code uri} and checks every sector; what it read becomes the
     * previous content for the next check.
     */
    Check check(ExternalTools tools, String uri) throws Exception {
        Path out = dir.resolve("inflight-read");
        tools.run(Duration.ofSeconds(60), "python3", script().toString(), "read", uri, Long.toString(base),
                Integer.toString(length), out.toString()).assertSucceeded();
        return check(Files.readAllBytes(out));
    }

    /** Checks {@code actual}, the bytes of the range, which become the previous content. */
    Check check(byte[] actual) {
        if (actual.length != length) {
            fail("read " + actual.length + " bytes of the in-flight range, expected " + length);
        }
        int unchanged = 0;
        int versions = 0;
        for (int at = 0; at < length; at += SECTOR) {
            if (Arrays.equals(actual, at, at + SECTOR, previous, at, at + SECTOR)) {
                unchanged++;
            } else {
                String wrong = versionProblem(actual, at);
                if (wrong != null) {
                    fail("in-flight range, sector " + (base + at) / SECTOR + " (byte " + (base + at) + "): neither its"
                            + " previous content nor a version written there by cycle " + cycle + ": " + wrong
                            + "; found " + HexFormat.of().formatHex(actual, at, at + RECORD) + "..., previous "
                            + HexFormat.of().formatHex(previous, at, at + RECORD) + "...");
                }
                versions++;
            }
        }
        previous = actual;
        return new Check(unchanged, versions);
    }

    /** Null if the sector at {@code at} is a version the last writer put there, else what is wrong. */
    private String versionProblem(byte[] bytes, int at) {
        for (int copy = 1; copy < SECTOR / RECORD; copy++) {
            if (!Arrays.equals(bytes, at, at + RECORD, bytes, at + copy * RECORD, at + (copy + 1) * RECORD)) {
                return "its 32-byte records differ (torn or foreign bytes)";
            }
        }
        if (!Arrays.equals(bytes, at, at + MAGIC.length, MAGIC, 0, MAGIC.length)) {
            return "no writer's record";
        }
        ByteBuffer le = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long sector = le.getLong(at + 8);
        long writtenIn = le.getLong(at + 16);
        long serial = le.getLong(at + 24);
        if (sector != (base + at) / SECTOR) {
            return "it names sector " + sector;
        }
        if (writtenIn != cycle) {
            return "it was written in cycle " + writtenIn;
        }
        if (serial < 0 || serial >= submitted) {
            return "write " + serial + " was never submitted (" + submitted + " were)";
        }
        int block = plan[(int) (serial % plan.length)];
        if (at / BLOCK != block) {
            return "write " + serial + " went to block " + block + ", not " + at / BLOCK;
        }
        return null;
    }

    private Path status(int ofCycle) {
        return dir.resolve("writer-status-" + ofCycle);
    }

    private Path script() throws IOException {
        if (script == null) {
            script = dir.resolve("sector_versions.py");
            try (InputStream in = InFlightRange.class.getResourceAsStream("sector_versions.py")) {
                Files.copy(in, script);
            }
        }
        return script;
    }
}
