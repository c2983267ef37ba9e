package pcache.bench;

import java.io.IOException;
import java.io.Writer;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.Date;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

import pcache.api.tls.TlsEndpoint;
import pcache.api.tls.TlsSettings;
import pcache.tls.internal.DefaultTlsProvider;

/**
 * A connected loopback socket pair, in clear text or after a TLS handshake (X.509 with a fresh
 * self-signed ECDSA certificate, or PSK), for {@link TlsChannelBench}.
 */
final class TlsLoopback implements AutoCloseable {

    final ByteChannel near;
    final ByteChannel far;
    private final Path dir;

    private TlsLoopback(ByteChannel near, ByteChannel far, Path dir) {
        this.near = near;
        this.far = far;
        this.dir = dir;
    }

    /** {@code mode}: clear, x509 or psk. {@code near} is the client end, {@code far} the server's. */
    static TlsLoopback open(String mode) throws Exception {
        Path dir = Files.createTempDirectory("pcache-tls-bench");
        SocketChannel client;
        SocketChannel server;
        try (ServerSocketChannel listener = ServerSocketChannel.open()) {
            listener.bind(new InetSocketAddress("127.0.0.1", 0));
            client = SocketChannel.open(listener.getLocalAddress());
            server = listener.accept();
        }
        client.socket().setTcpNoDelay(true);
        server.socket().setTcpNoDelay(true);
        if (mode.equals("clear")) {
            return new TlsLoopback(client, server, dir);
        }
        DefaultTlsProvider provider = new DefaultTlsProvider();
        TlsEndpoint serverEndpoint;
        TlsEndpoint clientEndpoint;
        if (mode.equals("x509")) {
            certificates(dir);
            serverEndpoint = provider.server(TlsSettings.certificates(dir, false, null));
            clientEndpoint = provider.client(TlsSettings.certificates(dir, true, "localhost"));
        } else if (mode.equals("psk")) {
            byte[] key = new byte[32];
            new SecureRandom().nextBytes(key);
            Path keys = Files.writeString(dir.resolve("keys.psk"), "bench:" + HexFormat.of().formatHex(key) + "\n");
            serverEndpoint = provider.server(TlsSettings.psk(keys, null));
            clientEndpoint = provider.client(TlsSettings.psk(keys, null));
        } else {
            throw new IllegalArgumentException("mode " + mode + ": expected clear, x509 or psk");
        }
        CompletableFuture<ByteChannel> far = CompletableFuture.supplyAsync(() -> {
            try {
                return serverEndpoint.handshake(server, "bench client");
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        ByteChannel near = clientEndpoint.handshake(client, "bench server");
        return new TlsLoopback(near, far.get(30, TimeUnit.SECONDS), dir);
    }

    /** ca-cert.pem, server-cert.pem (self-signed, for localhost) and server-key.pem in {@code dir}. */
    private static void certificates(Path dir) throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
        generator.initialize(256);
        KeyPair keys = generator.generateKeyPair();
        X500Name name = new X500Name("CN=localhost");
        long now = System.currentTimeMillis();
        X509Certificate certificate = new JcaX509CertificateConverter().getCertificate(
                new JcaX509v3CertificateBuilder(name, BigInteger.ONE, new Date(now - 3_600_000),
                        new Date(now + 86_400_000), name, keys.getPublic())
                        .build(new JcaContentSignerBuilder("SHA256withECDSA").build(keys.getPrivate())));
        for (String file : new String[] {"ca-cert.pem", "server-cert.pem"}) {
            try (Writer out = Files.newBufferedWriter(dir.resolve(file)); JcaPEMWriter pem = new JcaPEMWriter(out)) {
                pem.writeObject(certificate);
            }
        }
        try (Writer out = Files.newBufferedWriter(dir.resolve("server-key.pem"));
             JcaPEMWriter pem = new JcaPEMWriter(out)) {
            pem.writeObject(new JcaPKCS8Generator(keys.getPrivate(), null));
        }
    }

    /** Reads exactly {@code buffer.remaining()} bytes. */
    static void readFully(ByteChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            if (channel.read(buffer) < 0) {
                throw new java.io.EOFException();
            }
        }
    }

    /** Writes all of {@code buffers}. */
    static void writeFully(GatheringByteChannel channel, ByteBuffer[] buffers, long length) throws IOException {
        long written = 0;
        while (written < length) {
            written += channel.write(buffers);
        }
    }

    @Override
    public void close() throws IOException {
        near.close();
        far.close();
        try (var files = Files.list(dir)) {
            for (Path file : files.toList()) {
                Files.delete(file);
            }
        }
        Files.delete(dir);
    }
}
