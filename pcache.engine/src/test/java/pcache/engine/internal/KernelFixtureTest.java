package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import pcache.api.CacheMode;
import pcache.api.CacheStatus;
import pcache.engine.internal.engine.CacheEngine;
import pcache.engine.internal.engine.EngineConfig;
import pcache.writeback.internal.OrderedWritebackPolicy;

/**
 * Images written by the real Linux dm-pcache (pcache.testkit's resources, dm-pcache-kernel/; see its
 * README.md): replaying the kernel's key log must give exactly the logical device the kernel
 * recorded, writing everything back must leave the backing device equal to it, and the status
 * fields must match the kernel's own status line.
 */
class KernelFixtureTest {

    private static final int CHUNK = 4 << 20;

    private static InputStream resource(String name) throws IOException {
        InputStream in = KernelFixtureTest.class.getResourceAsStream("/dm-pcache-kernel/" + name);
        assertNotNull(in, "fixture " + name + " is missing from the test resources");
        return in;
    }

    private static InputStream gunzip(String name) throws IOException {
        return new GZIPInputStream(resource(name), 1 << 16);
    }

    private static String manifest(String set) throws IOException {
        try (InputStream in = resource(set + "/manifest.json")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static String field(String json, String key) {
        Matcher m = Pattern.compile("\"" + key + "\"\\s*:\\s*\"?([^\",}]*)\"?").matcher(json);
        if (!m.find()) {
            throw new AssertionError("manifest has no " + key);
        }
        return m.group(1).trim();
    }

    /** The nine dm-pcache fields of a {@code dmsetup status} line. */
    private static String kernelFields(String statusLine) {
        return statusLine.substring(statusLine.indexOf("pcache ") + "pcache ".length()).trim();
    }

    @ParameterizedTest
    @ValueSource(strings = {"dirty-nocrc", "clean-nocrc"})
    void replaysKernelImageAndWritesItBack(String set) throws Exception {
        String json = manifest(set);
        long cacheBytes = Long.parseLong(field(json, "cachedev_bytes"));
        long deviceBytes = Long.parseLong(field(json, "device_bytes"));
        SimulatedPmem pmem;
        try (InputStream in = gunzip(set + "/cachedev.img.gz")) {
            pmem = SimulatedPmem.load(cacheBytes, in, false);
        }
        MemoryBacking backing;
        try (InputStream in = gunzip(set + "/backing.img.gz")) {
            backing = MemoryBacking.load(deviceBytes, "kernel-backing", in);
        }
        EngineConfig cfg = EngineConfig.defaults("kernel").withStreams(2);

        // 1. replay without write-back: the status is the kernel's, the logical device is expected-logical
        CacheEngine e = Harness.open(cfg, pmem, Harness.holder(backing), null);
        try {
            CacheStatus s = e.status(CacheMode.WRITEBACK);
            assertEquals(kernelFields(field(json, "status_final")), s.dmStatusLine(),
                    set + ": status fields after replay (sb_flags seg_total cache_segs segs_used gc_percent"
                            + " cache_flags key_head dirty_tail key_tail)");
            compareLogical(set + " replayed cache", e, deviceBytes);
        } finally {
            e.close();
        }

        // 2. write everything back: the backing device must become expected-logical
        e = Harness.open(cfg, pmem.reopen(), Harness.holder(backing), new OrderedWritebackPolicy());
        try {
            e.drain(null);
            assertEquals(0, e.statistics().dirtyBytes());
        } finally {
            e.close();
        }
        try (InputStream expected = gunzip("expected-logical.img.gz")) {
            byte[] want = new byte[CHUNK];
            for (long off = 0; off < deviceBytes; off += CHUNK) {
                readFully(expected, want);
                byte[] got = backing.content(off, CHUNK);
                if (!java.util.Arrays.equals(want, got)) {
                    fail(set + ": backing device after write-back differs from expected-logical in ["
                            + off + ", +" + CHUNK + ") at byte " + firstDifference(want, got));
                }
            }
        }
    }

    private static void compareLogical(String what, CacheEngine e, long deviceBytes) throws IOException {
        try (InputStream expected = gunzip("expected-logical.img.gz")) {
            byte[] want = new byte[CHUNK];
            for (long off = 0; off < deviceBytes; off += CHUNK) {
                readFully(expected, want);
                ByteBuffer got = ByteBuffer.allocate(CHUNK);
                e.read(off, got);
                if (!java.util.Arrays.equals(want, got.array())) {
                    fail(what + " differs from expected-logical in [" + off + ", +" + CHUNK + ") at byte "
                            + firstDifference(want, got.array()));
                }
            }
        }
    }

    private static void readFully(InputStream in, byte[] b) throws IOException {
        int n = in.readNBytes(b, 0, b.length);
        if (n != b.length) {
            throw new IOException("expected-logical.img ended early");
        }
    }

    private static long firstDifference(byte[] a, byte[] b) {
        for (int i = 0; i < a.length; i++) {
            if (a[i] != b[i]) {
                return i;
            }
        }
        return -1;
    }
}
