package pcache.bench.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FlushedWriteLogsTest {

    @TempDir
    Path dir;

    @Test
    void aFlushFollowsEveryThirtySecondWriteAndNothingElse() throws IOException {
        Path log = dir.resolve("a.iolog");
        FlushedWriteLogs.write(log, 1L << 20, 4096, 100, 7);
        List<String> lines = Files.readAllLines(log);
        assertEquals(List.of("fio version 2 iolog", "nbd add", "nbd open"), lines.subList(0, 3));
        assertEquals("nbd close", lines.get(lines.size() - 1));
        List<String> body = lines.subList(3, lines.size() - 1);
        assertEquals(100 + 3, body.size(), "100 writes and a flush after the 32nd, 64th and 96th");
        int writes = 0;
        for (int i = 0; i < body.size(); i++) {
            String line = body.get(i);
            if (line.equals("nbd sync 0 0")) {
                assertTrue(writes > 0 && writes % 32 == 0, "a flush after write " + writes);
                continue;
            }
            String[] f = line.split(" ");
            assertEquals(4, f.length, line);
            assertEquals("write", f[1], line);
            long offset = Long.parseLong(f[2]);
            assertEquals(0, offset % 4096, line);
            assertTrue(offset >= 0 && offset + 4096 <= 1L << 20, line);
            assertEquals("4096", f[3], line);
            writes++;
            if (writes % 32 == 0) {
                assertEquals("nbd sync 0 0", body.get(i + 1), "the line after write " + writes);
            }
        }
        assertEquals(100, writes);
    }

    @Test
    void theOffsetsComeFromTheSeedAndCoverTheRange() throws IOException {
        Path a = dir.resolve("a");
        Path b = dir.resolve("b");
        Path c = dir.resolve("c");
        FlushedWriteLogs.write(a, 64L << 10, 4096, 2000, 1);
        FlushedWriteLogs.write(b, 64L << 10, 4096, 2000, 1);
        FlushedWriteLogs.write(c, 64L << 10, 4096, 2000, 2);
        assertEquals(Files.readString(a), Files.readString(b));
        assertNotEquals(Files.readString(a), Files.readString(c));
        Set<String> offsets = new HashSet<>();
        for (String line : Files.readAllLines(a)) {
            if (line.contains(" write ")) {
                offsets.add(line.split(" ")[2]);
            }
        }
        assertEquals(16, offsets.size(), "2,000 random writes touch all 16 blocks of 64 KiB");
    }

    @Test
    void aRangeSmallerThanABlockIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> FlushedWriteLogs.write(dir.resolve("x"), 4095, 4096, 1, 1));
    }

    @Test
    void aLogForOneConnectionAndOnePerConnectionForSeveralLongEnoughForRampAndRuntimeDeletedOnClose()
            throws IOException {
        BenchSettings s = BenchSettings.parse("--runtime=2", "--ramp=1", "--connections=3", "--range=1M",
                "--seed=42");
        Path folder;
        try (FlushedWriteLogs logs = FlushedWriteLogs.create(dir, s, 1000, 400)) {
            assertEquals(3 * 1000, logs.singleWrites());
            assertEquals(3 * 400, logs.multiWrites());
            folder = logs.single().getParent();
            assertEquals(dir, folder.getParent());
            Set<String> contents = new HashSet<>();
            List<String> single = Files.readAllLines(logs.single());
            assertEquals(3 + 3000 + 3000 / 32 + 1, single.size());
            contents.add(String.join("\n", single.subList(3, 100)));
            for (int c = 0; c < 3; c++) {
                assertEquals(folder, logs.multi(c).getParent());
                List<String> lines = Files.readAllLines(logs.multi(c));
                assertEquals(3 + 1200 + 1200 / 32 + 1, lines.size());
                contents.add(String.join("\n", lines.subList(3, 100)));
            }
            assertEquals(4, contents.size(), "each log has its own offsets");
        }
        assertFalse(Files.exists(folder));
    }

    @Test
    void oneConnectionWritesNoLogsForSeveral() throws IOException {
        try (FlushedWriteLogs logs = FlushedWriteLogs.create(dir, BenchSettings.parse("--runtime=1", "--ramp=0",
                "--connections=1", "--range=1M"), 100, 100)) {
            try (Stream<Path> files = Files.list(logs.single().getParent())) {
                assertEquals(List.of(logs.single()), files.toList());
            }
        }
    }

    @Test
    void theDefaultRatesAreThoseOfTheHarness() throws IOException {
        try (FlushedWriteLogs logs = FlushedWriteLogs.create(dir, BenchSettings.parse("--runtime=1", "--ramp=0",
                "--connections=2", "--range=1M"))) {
            assertEquals(FlushedWriteLogs.WRITES_PER_SECOND, logs.singleWrites());
            assertEquals(FlushedWriteLogs.WRITES_PER_SECOND_EACH, logs.multiWrites());
        }
    }
}
