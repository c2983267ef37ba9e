package pcache.keyindex.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import pcache.api.CachePos;
import pcache.api.format.PcacheFormat;
import pcache.api.spi.CacheKey;
import pcache.api.spi.KeySlice;
import pcache.api.spi.KeyValidity;
import pcache.api.spi.Kset;
import pcache.api.spi.PmemRegion;
import pcache.pmem.internal.HeapPmemProvider;
import pcache.testkit.KernelFixtures;

/**
 * The key log the Linux kernel wrote: the dirty-nocrc fixture (see its README and manifest.json).
 * Only the first three segments are read — the key log stays in segment 0 and the cached data in
 * segments 1 and 2.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class KernelImageKeyLogTest {

    private static final String DIR = "dirty-nocrc/";
    private static final int SEGMENTS = 3;
    /** Device offset of segment 0's data area: 20 KiB + 12 KiB. */
    private static final long LOG_START = 20480 + 12288;

    private LogDevice dev;
    private PmemKeyLog log;
    private String manifest;

    @BeforeAll
    void readImage() throws IOException {
        int bytes = (int) PcacheFormat.segmentOffset(SEGMENTS);
        byte[] prefix;
        try (InputStream in = KernelFixtures.open(DIR + "cachedev.img.gz")) {
            prefix = in.readNBytes(bytes);
        }
        assertEquals(bytes, prefix.length);
        PmemRegion region = new HeapPmemProvider().open(Path.of("/virtual/kernel-keylog"), bytes);
        region.write(0, prefix, 0, bytes);
        dev = new LogDevice(region, SEGMENTS, 2, 1000, null, false);
        log = dev.openLog();
        manifest = KernelFixtures.text(DIR + "manifest.json");
    }

    @Test
    void theFirstKsetHas128KeysAndAValidCrc() throws IOException {
        assertEquals(LOG_START, dev.segments.dataOffset(0));
        ByteBuffer image = ByteBuffer.allocate(5144).order(ByteOrder.LITTLE_ENDIAN);
        dev.region.read(LOG_START, image);
        assertEquals(KsetCodec.HeaderCheck.KEYS, KsetCodec.checkHeader(image, dev.crc));
        assertEquals(128, KsetCodec.keyNumOrNext(image));
        Kset direct = KsetCodec.decodeBody(new CachePos(0, 0), image, dev.crc);
        assertNotNull(direct, "CRC over bytes 4..5143 matches");

        Kset k = log.read(new CachePos(0, 0));
        assertNotNull(k);
        assertEquals(128, k.keys().size());
        assertEquals(5144, k.sizeBytes());
        assertFalse(k.last());

        // the first write of the manifest: op 1, offset 0, length 65536 (a 64 KiB write, one key);
        // a write, so not CLEAN; the first data segment after segment 0 (the key log) at its
        // start; generation 0 on a new cache; data_crc false, so CRC 0
        CacheKey first = k.keys().get(0);
        assertEquals(0, first.offset());
        assertEquals(65536, first.length());
        assertEquals(0, first.mediaFlags());
        assertEquals(1, first.segment());
        assertEquals(0, first.segmentOffset());
        assertEquals(0, first.generation());
        assertEquals(0, first.dataCrc());
        Matcher op1 = Pattern.compile("\"kind\":\\s*\"write\",\\s*\"op\":\\s*1,\\s*\"offset\":\\s*(\\d+),\\s*\"length\":\\s*(\\d+)")
                .matcher(manifest);
        assertTrue(op1.find());
        assertEquals(Long.parseLong(op1.group(1)), first.offset());
        assertEquals(Integer.parseInt(op1.group(2)), first.length());
    }

    @Test
    void reEncodingTheKernelsKsetGivesItsBytes() throws IOException {
        Kset k = log.read(new CachePos(0, 0));
        byte[] kernel = new byte[5144];
        dev.region.read(LOG_START, kernel, 0, kernel.length);
        assertArrayEquals(kernel, KsetCodec.encode(k.keys(), dev.crc));
    }

    @Test
    void theLogEndsAtTheKeyHeadTheKernelReported() throws IOException {
        List<Kset> ksets = LogDevice.readLog(log, new CachePos(0, 0));
        List<Integer> sizes = new ArrayList<>();
        ksets.forEach(k -> sizes.add(k.keys().size()));
        assertEquals(List.of(128, 8, 75), sizes);
        Kset lastOne = ksets.get(ksets.size() - 1);
        // status_final: "... <key_head> <dirty_tail> <key_tail>" as seg:off
        Matcher status = Pattern.compile("\"status_final\":\\s*\"[^\"]* (\\d+:\\d+) (\\d+:\\d+) (\\d+:\\d+)\"").matcher(manifest);
        assertTrue(status.find());
        assertEquals(status.group(1), lastOne.next().toString());
        assertEquals("0:0", status.group(3), "replay starts at key_tail 0:0");
    }

    /**
     * Replays the log into an index in log order and checks every cached sector against the
     * manifest: each 512-byte sector the workload wrote starts with "KPF tag=base op=NNNN
     * lba=LLLLLLLLLL", so the index must lead every written sector to the data of the last write
     * to it (overlap resolution as the kernel did it) — the backing device got none of it.
     */
    @Test
    void replayingTheLogLeadsEveryWrittenSectorToItsLastWrite() throws IOException {
        Map<Long, Integer> lastWrite = new HashMap<>();
        List<long[]> prefills = new ArrayList<>();
        Matcher op = Pattern.compile("\"kind\":\\s*\"([^\"]+)\",\\s*\"op\":\\s*(\\d+),\\s*\"offset\":\\s*(\\d+),\\s*\"length\":\\s*(\\d+)")
                .matcher(manifest);
        while (op.find()) {
            int id = Integer.parseInt(op.group(2));
            long off = Long.parseLong(op.group(3));
            long len = Long.parseLong(op.group(4));
            if (op.group(1).equals("write")) {
                for (long s = off / 512; s < (off + len) / 512; s++) {
                    lastWrite.put(s, id);
                }
            } else if (op.group(1).startsWith("prefill")) {
                prefills.add(new long[] {id, off / 512, (off + len) / 512});
            }
        }
        assertTrue(lastWrite.size() > 1000, "manifest parsed");
        long logical = Long.parseLong(find("\"device_bytes\":\\s*(\\d+)"));

        StripedKeyIndex index = new StripedKeyIndex(logical);
        for (CacheKey k : LogDevice.keysOf(LogDevice.readLog(log, new CachePos(0, 0)))) {
            KeySlice slice = index.slice(k.offset());
            slice.lock();
            try {
                slice.insert(k, KeyValidity.ALL);
            } finally {
                slice.unlock();
            }
        }

        Set<Long> covered = new HashSet<>();
        List<String> wrong = new ArrayList<>();
        List<CacheKey> keys = new ArrayList<>();
        index.forEach(keys::add);
        byte[] tag = new byte[36];
        for (CacheKey k : keys) {
            for (long p = k.offset(); p < k.end(); p += 512) {
                long lba = p / 512;
                covered.add(lba);
                dev.region.read(dev.segments.dataOffset(k.segment()) + k.segmentOffset() + (p - k.offset()), tag, 0, 36);
                String found = new String(tag, StandardCharsets.ISO_8859_1);
                Integer w = lastWrite.get(lba);
                if (w != null) {
                    String expected = String.format("KPF tag=base op=%04d lba=%010d\n", w, lba);
                    if (!expected.equals(found)) {
                        wrong.add("lba " + lba + " via " + k + ": " + found.trim());
                    }
                } else if (found.startsWith("KPF ")) {
                    boolean prefilled = false;
                    for (long[] pf : prefills) {
                        if (lba >= pf[1] && lba < pf[2]
                                && found.equals(String.format("KPF tag=base op=%04d lba=%010d\n", pf[0], lba))) {
                            prefilled = true;
                        }
                    }
                    if (!prefilled) {
                        wrong.add("lba " + lba + " (never written) via " + k + ": " + found.trim());
                    }
                }
            }
        }
        assertEquals(List.of(), wrong.subList(0, Math.min(10, wrong.size())));
        Set<Long> missing = new HashSet<>(lastWrite.keySet());
        missing.removeAll(covered);
        assertEquals(Set.of(), missing, "written sectors not in the cache");
    }

    private String find(String regex) {
        Matcher m = Pattern.compile(regex).matcher(manifest);
        assertTrue(m.find(), regex);
        return m.group(1);
    }
}
