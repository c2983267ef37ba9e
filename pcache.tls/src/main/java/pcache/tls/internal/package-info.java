/**
 * The TLS provider behind {@code pcache.tls} ({@link pcache.api.tls.TlsProvider}). Private package.
 *
 * <ul>
 * <li>{@link pcache.tls.internal.DefaultTlsProvider}: plain code, chooses X.509 or PSK;
 * {@link pcache.tls.internal.TlsProviderComponent} registers it as a DS service.</li>
 * <li>{@code credentials}: the files (PEM certificates and keys in qemu's and nbdkit's directory
 * layout, PSK files in their {@code identity:hexkey} format).</li>
 * <li>{@code x509}: the JDK's JSSE; an {@code SSLEngine} wrapped as a blocking channel.</li>
 * <li>{@code psk}: Bouncy Castle's TLS API ({@code org.bouncycastle.tls}) with external PSKs,
 * which JSSE lacks; its non-blocking protocol object wrapped as a blocking channel.</li>
 * </ul>
 */
package pcache.tls.internal;
