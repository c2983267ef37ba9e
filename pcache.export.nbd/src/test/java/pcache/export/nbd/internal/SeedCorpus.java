package pcache.export.nbd.internal;

import static pcache.api.nbd.NbdWire.*;
import static pcache.export.nbd.internal.NbdProtocol.*;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;
import pcache.api.nbd.NbdWire;

/**
 * Starting points for the fuzzers: the streams real clients send (nbdinfo, qemu, fio,
 * nbd-tester-client, nbd-client; design doc §9) plus a few with every kind of mistake. The same
 * streams are committed as Jazzer seed files under {@code src/test/resources} (regenerate them
 * with {@link #main}); the bounded random slice and the socket fuzz mutate them directly.
 */
final class SeedCorpus {
    private SeedCorpus() {
    }

    /** Directory of Jazzer's inputs for one fuzz test method. */
    static Path inputsDirectory(Path testResources, String method) {
        return testResources.resolve("pcache/export/nbd/internal/NbdFuzzTestInputs").resolve(method);
    }

    /** Writes the seeds as files (run from the module directory). */
    public static void main(String[] args) throws IOException {
        Path resources = Path.of(args.length > 0 ? args[0] : "src/test/resources");
        write(inputsDirectory(resources, "handshake"), handshakeSeeds());
        write(inputsDirectory(resources, "transmission"), transmissionSeeds());
    }

    private static void write(Path dir, Map<String, byte[]> seeds) throws IOException {
        Files.createDirectories(dir);
        for (Map.Entry<String, byte[]> e : seeds.entrySet()) {
            Files.write(dir.resolve("seed-" + e.getKey()), e.getValue());
        }
    }

    /** Every committed input of one fuzz test method (seeds and regression inputs). */
    static List<byte[]> committedInputs(String method) {
        Path dir = inputsDirectory(Path.of("src/test/resources"), method);
        List<byte[]> result = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return result;
        }
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : files.sorted().toList()) {
                result.add(Files.readAllBytes(p));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return result;
    }

    private static byte[] stream(Consumer<ClientStream.Writer> body) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        body.accept(ClientStream.Writer.toBytes(bytes));
        return bytes.toByteArray();
    }

    private static byte[] pattern(int length, int seed) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (i * 31 + seed);
        }
        return b;
    }

    /** A mixed bag of requests: valid ones of every command and typical mistakes. */
    static void requests(ClientStream.Writer w, boolean structured) {
        w.request(0, NbdCommand.WRITE.type, 1, 0, 4096).raw(pattern(4096, 1))
                .request(CMD_FLAG_FUA, NbdCommand.WRITE.type, 2, 65536, 512).raw(pattern(512, 2))
                .request(0, NbdCommand.READ.type, 3, 0, 8192)
                .request(structured ? CMD_FLAG_DF : 0, NbdCommand.READ.type, 4, 65536, 512)
                .request(0, NbdCommand.FLUSH.type, 5, 0, 0)
                .request(CMD_FLAG_FUA, NbdCommand.TRIM.type, 6, 4096, 4096)
                .request(CMD_FLAG_NO_HOLE, NbdCommand.WRITE_ZEROES.type, 7, 8192, 1024)
                .request(CMD_FLAG_FAST_ZERO, NbdCommand.WRITE_ZEROES.type, 8, 8192, 1024)
                .request(0, NbdCommand.CACHE.type, 9, 0, 65536)
                .request(CMD_FLAG_REQ_ONE, NbdCommand.BLOCK_STATUS.type, 10, 0, 65536)
                .request(0, NbdCommand.READ.type, 11, SessionDriver.OTHER_BYTES - 512, 1024) // past the end
                .request(0, NbdCommand.WRITE.type, 12, 100, 512).raw(pattern(512, 3))     // misaligned
                .request(0, 9, 14, 0, 0)                                                    // unknown command
                .request(0x40, NbdCommand.READ.type, 15, 0, 512)                            // unknown flag
                .request(0, NbdCommand.READ.type, 16, 0, 0)
                .request(0, NbdCommand.WRITE.type, 17, 0, 0)
                .request(0, NbdCommand.FLUSH.type, 18, 512, 0)
                .request(0, NbdCommand.DISC.type, 19, 0, 0);
    }

    static Map<String, byte[]> handshakeSeeds() {
        Map<String, byte[]> seeds = new LinkedHashMap<>();
        seeds.put("nbdinfo", stream(w -> {
            w.flags(CLIENT_FLAGS_KNOWN).option(OPT_STRUCTURED_REPLY, new byte[0])
                    .option(OPT_INFO, RawNbdClient.infoData("disk", INFO_BLOCK_SIZE, INFO_NAME, INFO_DESCRIPTION))
                    .option(OPT_LIST_META_CONTEXT, RawNbdClient.metaContextData("disk", "base:allocation"))
                    .option(OPT_GO, RawNbdClient.infoData("disk", INFO_BLOCK_SIZE));
            requests(w, true);
        }));
        seeds.put("qemu", stream(w -> {
            w.flags(CLIENT_FLAGS_KNOWN).option(OPT_STRUCTURED_REPLY, new byte[0])
                    .option(OPT_SET_META_CONTEXT, RawNbdClient.metaContextData("other", "base:allocation"))
                    .option(OPT_GO, RawNbdClient.infoData("other", INFO_BLOCK_SIZE));
            requests(w, true);
        }));
        seeds.put("nbd-tester", stream(w -> {
            w.flags(CLIENT_FLAG_FIXED_NEWSTYLE).option(OPT_EXPORT_NAME, "disk".getBytes());
            requests(w, false);
        }));
        seeds.put("nbd-client", stream(w -> {
            w.flags(CLIENT_FLAGS_KNOWN).option(OPT_GO, RawNbdClient.infoData("other"));
            requests(w, false);
        }));
        seeds.put("list-abort", stream(w -> w.flags(CLIENT_FLAGS_KNOWN).option(OPT_LIST, new byte[0])
                .option(OPT_ABORT, new byte[0])));
        seeds.put("mistakes", stream(w -> w.flags(CLIENT_FLAGS_KNOWN)
                .option(0x7654321, new byte[] {1, 2, 3, 4})
                .option(OPT_STARTTLS, new byte[0])
                .option(OPT_EXTENDED_HEADERS, new byte[0])
                .option(OPT_LIST, new byte[] {1})
                .option(OPT_INFO, RawNbdClient.infoData("../disk", INFO_EXPORT))
                .option(OPT_GO, RawNbdClient.infoData(""))
                .option(OPT_GO, new byte[] {0, 0, 0, 9, 'd'})
                .option(OPT_SET_META_CONTEXT, RawNbdClient.metaContextData("disk", "base:allocation"))
                .option(OPT_STRUCTURED_REPLY, new byte[0])
                .option(OPT_STRUCTURED_REPLY, new byte[0])
                .option(OPT_LIST_META_CONTEXT, RawNbdClient.metaContextData("disk"))
                .option(OPT_SET_META_CONTEXT, RawNbdClient.metaContextData("disk", "base:", "x:y"))
                .option(OPT_EXPORT_NAME, "other".getBytes())));
        seeds.put("export-name-unknown", stream(w -> w.flags(CLIENT_FLAGS_KNOWN)
                .option(OPT_EXPORT_NAME, "/etc/passwd".getBytes())));
        return seeds;
    }

    /** First byte: bit 0 structured replies, bit 1 export "other", bit 2 base:allocation selected. */
    static Map<String, byte[]> transmissionSeeds() {
        Map<String, byte[]> seeds = new LinkedHashMap<>();
        for (int selector = 0; selector < 8; selector++) {
            int s = selector;
            seeds.put("mix-" + selector, stream(w -> {
                w.raw(new byte[] {(byte) s});
                requests(w, (s & 1) != 0);
            }));
        }
        seeds.put("bad-magic", stream(w -> w.raw(new byte[] {1}).request(0, NbdCommand.READ.type, 1, 0, 512)
                .raw(new byte[] {0x12, 0x56, 0x09, 0x53})));
        seeds.put("oversized-write", stream(w -> w.raw(new byte[] {3})
                .request(0, NbdCommand.WRITE.type, 1, 0, (32 << 20) + 512).raw(new byte[1000])
                .request(0, NbdCommand.READ.type, 2, 0, 512)));
        seeds.put("absurd-payload", stream(w -> w.raw(new byte[] {0})
                .request(0, NbdCommand.WRITE.type, 1, 0, 0xffff_fe00L)));
        return seeds;
    }
}
