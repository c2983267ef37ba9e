package pcache.export.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real NBD clients against the server: qemu-io, nbdinfo, nbdcopy, fio and nbdsh (libnbd), over
 * TCP on 127.0.0.1 and over a unix socket. Each test skips if its tool is not installed.
 */
@Timeout(60)
class InteropTest {
    private static final Duration TOOL_TIMEOUT = Duration.ofSeconds(30);
    private static final int BIG_BYTES = 64 << 20;

    @TempDir
    Path dir;

    private ServerFixture fixture;
    private MemoryBlockDevice big;
    private Path socket;
    private ExternalProcesses processes;

    @BeforeEach
    void start() throws IOException {
        fixture = new ServerFixture();
        socket = dir.resolve("nbd.sock");
        fixture.server.listen(ListenAddress.unix(socket));
        processes = new ExternalProcesses(dir);
    }

    @AfterEach
    void stop() throws InterruptedException {
        processes.destroyAll();
        fixture.close();
    }

    private String unixUri(String export) {
        return "nbd+unix:///" + export + "?socket=" + socket;
    }

    private static void assertSucceeded(ExternalProcesses.Result r) {
        assertEquals(0, r.exitCode(), r.all());
    }

    private static byte[] filled(int length, int value) {
        byte[] b = new byte[length];
        Arrays.fill(b, (byte) value);
        return b;
    }

    @Test
    void qemuIoWritethroughSendsFuaOnEveryWrite() throws Exception {
        ExternalProcesses.assumeInstalled("qemu-io");
        ExternalProcesses.Result r = processes.run(TOOL_TIMEOUT, "qemu-io", "-f", "raw",
                "-c", "write -P 0xab 0 1M", "-c", "read -P 0xab 0 1M",
                "-c", "write -z 1M 64k", "-c", "read -P 0 1M 64k",
                "-c", "write -P 0xcd 4M 4k", "-c", "discard 8M 64k", "-c", "read -P 0xab 512k 4k",
                fixture.uri("disk"));
        assertSucceeded(r);
        assertFalse(r.all().contains("failed"), r.all());
        assertTrue(fixture.disk.fuaWrites.get() >= 2, "qemu's default writethrough mode writes with FUA");
        assertEquals(fixture.disk.writes.get(), fixture.disk.fuaWrites.get());
        assertTrue(fixture.disk.trims.get() >= 1);
        assertArrayEquals(filled(1 << 20, 0xab), fixture.disk.snapshot(0, 1 << 20));
        assertArrayEquals(new byte[64 << 10], fixture.disk.snapshot(1 << 20, 64 << 10));
        assertArrayEquals(filled(4096, 0xcd), fixture.disk.snapshot(4 << 20, 4096));
    }

    @Test
    void qemuIoWritebackOverAUnixSocketFlushesInsteadOfFua() throws Exception {
        ExternalProcesses.assumeInstalled("qemu-io");
        ExternalProcesses.Result r = processes.run(TOOL_TIMEOUT, "qemu-io", "-f", "raw", "-t", "writeback",
                "-c", "write -P 0x5a 0 256k", "-c", "read -P 0x5a 0 256k", "-c", "flush",
                "-c", "read -P 0 1M 4k", unixUri("disk"));
        assertSucceeded(r);
        assertFalse(r.all().contains("failed"), r.all());
        assertEquals(0, fixture.disk.fuaWrites.get());
        assertTrue(fixture.disk.writes.get() >= 1);
        assertTrue(fixture.disk.flushes.get() >= 1);
        assertArrayEquals(filled(256 << 10, 0x5a), fixture.disk.snapshot(0, 256 << 10));
        // a read-back that does not match must make qemu-io fail (proves the check above can fail)
        ExternalProcesses.Result mismatch = processes.run(TOOL_TIMEOUT, "qemu-io", "-f", "raw",
                "-c", "read -P 0x77 0 4k", unixUri("disk"));
        assertTrue(mismatch.exitCode() != 0 || mismatch.all().contains("Pattern verification failed"));
    }

    @Test
    void nbdinfoReportsSizeBlockSizesFlagsAndTheExportList() throws Exception {
        ExternalProcesses.assumeInstalled("nbdinfo");
        ExternalProcesses.Result json = processes.run(TOOL_TIMEOUT, "nbdinfo", "--json", fixture.uri("disk"));
        assertSucceeded(json);
        String out = json.stdout().replaceAll("\\s", "");
        for (String expected : new String[] {
            "\"export-size\":" + ServerFixture.DISK_BYTES, "\"block_size_minimum\":512",
            "\"block_size_preferred\":4096", "\"block_size_maximum\":33554432",
            "\"is_read_only\":false", "\"can_multi_conn\":true", "\"structured\":true",
            "\"base:allocation\""}) {
            assertTrue(out.contains(expected), expected + " in " + json.stdout());
        }
        ExternalProcesses.Result list = processes.run(TOOL_TIMEOUT, "nbdinfo", "--list", unixUri(""));
        assertSucceeded(list);
        assertTrue(list.stdout().contains("export=\"disk\"") && list.stdout().contains("export=\"other\""),
                list.stdout());
        for (String can : new String[] {"flush", "fua", "multi-conn", "trim", "zero", "cache", "fast-zero", "df"}) {
            assertSucceeded(processes.run(TOOL_TIMEOUT, "nbdinfo", "--can", can, fixture.uri("disk")));
        }
        assertEquals(2, processes.run(TOOL_TIMEOUT, "nbdinfo", "--is", "read-only", fixture.uri("disk")).exitCode(),
                "exit code 2 means 'false'");
    }

    @Test
    void nbdcopyRoundTripsARandom64MiBFile() throws Exception {
        ExternalProcesses.assumeInstalled("nbdcopy");
        big = new MemoryBlockDevice("big", BIG_BYTES);
        fixture.server.export("big", big);
        Path in = dir.resolve("in.bin");
        Path out = dir.resolve("out.bin");
        Random random = new Random(64);
        byte[] chunk = new byte[1 << 20];
        try (OutputStream o = Files.newOutputStream(in)) {
            for (int i = 0; i < BIG_BYTES / chunk.length; i++) {
                random.nextBytes(chunk);
                o.write(chunk);
            }
        }
        assertSucceeded(processes.run(TOOL_TIMEOUT, "nbdcopy", "--flush", in.toString(), fixture.uri("big")));
        assertTrue(big.flushes.get() >= 1);
        assertSucceeded(processes.run(TOOL_TIMEOUT, "nbdcopy", unixUri("big"), out.toString()));
        assertEquals(-1, Files.mismatch(in, out), "the file came back byte for byte");
        assertArrayEquals(Arrays.copyOfRange(Files.readAllBytes(in), 0, 1 << 20), big.snapshot(0, 1 << 20));
    }

    @Test
    void fioRandomWritesAtQueueDepth16VerifyClean() throws Exception {
        ExternalProcesses.assumeInstalled("fio");
        ExternalProcesses.Result r = processes.run(TOOL_TIMEOUT, "fio", "--name=randwrite", "--ioengine=nbd",
                "--uri=" + fixture.uri("disk"), "--rw=randwrite", "--bs=4k", "--iodepth=16", "--size=4M",
                "--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--fsync=32",
                "--verify_state_save=0"); // no state file in the working directory
        assertSucceeded(r);
        assertFalse(r.all().contains("verify: bad"), r.all());
        assertTrue(r.all().contains("err= 0"), r.all());
        assertTrue(fixture.disk.writes.get() >= 1024, "4 MiB of 4 KiB writes reached the device");
        assertTrue(fixture.disk.flushes.get() >= 1, "fsync=32 sends flushes");
    }

    /** Runs a Python snippet in nbdsh (libnbd), where {@code h} is a fresh handle. */
    private ExternalProcesses.Result nbdsh(String script) throws Exception {
        return processes.run(TOOL_TIMEOUT, "nbdsh", "-c", script);
    }

    @Test
    void nbdshNonStrictRequestsGetTheExactErrors() throws Exception {
        ExternalProcesses.assumeInstalled("nbdsh");
        String script = String.join("\n",
                "import errno",
                "def err(f):",
                "    try:",
                "        f()",
                "        return 0",
                "    except nbd.Error as e:",
                "        return e.errnum",
                "h.add_meta_context('base:allocation')",
                "h.connect_uri('" + fixture.uri("disk") + "')",
                "h.set_strict_mode(0)",
                "size = h.get_size()",
                "assert err(lambda: h.pread(1024, size - 512)) == errno.EINVAL, 'read past end'",
                "assert err(lambda: h.pwrite(b'x' * 1024, size - 512)) == errno.ENOSPC, 'write past end'",
                "assert err(lambda: h.zero(1024, size - 512)) == errno.ENOSPC, 'zero past end'",
                "assert err(lambda: h.trim(1024, size)) == errno.EINVAL, 'trim past end'",
                "assert err(lambda: h.pread(512, 100)) == errno.EINVAL, 'misaligned offset'",
                "assert err(lambda: h.pwrite(b'x' * 100, 0)) == errno.EINVAL, 'misaligned length'",
                "assert err(lambda: h.pread(0, 4096)) == 0, 'zero-length read'",
                "assert err(lambda: h.pwrite(b'', 4096)) == 0, 'zero-length write'",
                "assert err(lambda: h.pread(33 << 20, 0)) == errno.EINVAL, 'read over max payload'",
                "assert err(lambda: h.pread(512, 0, nbd.CMD_FLAG_REQ_ONE)) == errno.EINVAL, 'flag not for READ'",
                "assert err(lambda: h.zero(4096, 0, nbd.CMD_FLAG_FAST_ZERO)) == errno.ENOTSUP, 'fast zero'",
                "ext = []",
                "h.block_status(65536, 4096, lambda ctx, off, entries, e: ext.append((ctx, list(entries))) or 0)",
                "assert ext == [('base:allocation', [65536, 0])], ext",
                "assert err(lambda: h.block_status(512, size, lambda *a: 0)) == errno.EINVAL, 'status past end'",
                "h.shutdown()",
                "print('all edge cases ok')");
        ExternalProcesses.Result r = nbdsh(script);
        assertSucceeded(r);
        assertTrue(r.stdout().contains("all edge cases ok"), r.all());
        assertEquals(0, fixture.disk.writes.get() + fixture.disk.zeroWrites.get() + fixture.disk.trims.get(),
                "no refused request touched the device");
    }

    @Test
    void nbdshOptionModeAndSimpleReplies() throws Exception {
        ExternalProcesses.assumeInstalled("nbdsh");
        String script = String.join("\n",
                "h.set_opt_mode(True)",
                "h.set_tls(nbd.TLS_ALLOW)",
                "h.connect_uri('" + unixUri("disk") + "')",
                "assert not h.get_tls_negotiated(), 'STARTTLS refused by policy, plaintext goes on'",
                "names = []",
                "h.opt_list(lambda name, desc: names.append(name) or 0)",
                "assert names == ['disk', 'other'], names",
                "h.set_export_name('nope')",
                "try:",
                "    h.opt_info()",
                "    raise AssertionError('unknown export accepted')",
                "except nbd.Error as e:",
                "    assert e.errnum == errno.ENOENT, e",
                "h.set_export_name('other')",
                "h.opt_info()",
                "assert h.get_size() == " + ServerFixture.OTHER_BYTES,
                "assert h.get_block_size(nbd.SIZE_MINIMUM) == 512",
                "ctx = []",
                "h.opt_list_meta_context(lambda name: ctx.append(name) or 0)",
                "assert ctx == ['base:allocation'], ctx",
                "h.opt_go()",
                "h.pwrite(b'\\x42' * 4096, 8192)",
                "assert h.pread(4096, 8192) == b'\\x42' * 4096",
                "h.shutdown()",
                // simple replies only, two connections: a write + flush on one is read on the other
                "a = nbd.NBD()",
                "a.set_request_structured_replies(False)",
                "a.connect_uri('" + fixture.uri("disk") + "')",
                "assert not a.get_structured_replies_negotiated()",
                "assert not a.can_df()",
                "b = nbd.NBD()",
                "b.connect_uri('" + unixUri("disk") + "')",
                "assert b.can_multi_conn()",
                "a.pwrite(b'\\x99' * 65536, 1 << 20, nbd.CMD_FLAG_FUA)",
                "a.pwrite(b'\\x98' * 65536, 2 << 20)",
                "a.flush()",
                "assert b.pread(65536, 1 << 20) == b'\\x99' * 65536",
                "assert b.pread(65536, 2 << 20) == b'\\x98' * 65536",
                "a.shutdown()",
                "b.shutdown()",
                "print('option mode ok')");
        ExternalProcesses.Result r = nbdsh("import errno\n" + script);
        assertSucceeded(r);
        assertTrue(r.stdout().contains("option mode ok"), r.all());
        assertArrayEquals(filled(4096, 0x42), fixture.other.snapshot(8192, 4096));
        assertEquals(1, fixture.disk.fuaWrites.get());
        assertTrue(fixture.disk.flushes.get() >= 1);
    }
}
