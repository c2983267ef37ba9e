package pcache.launcher;

import java.io.IOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The TCP sockets a process listens on, read from Linux's {@code /proc}: the socket inodes among
 * the process's open files, matched with the listening entries of {@code /proc/net/tcp} and
 * {@code tcp6}. Each as {@code ADDRESS:PORT} ({@code 127.0.0.1:8080}, {@code [::1]:8080}).
 */
final class ListeningSockets {

    private static final Pattern SOCKET_LINK = Pattern.compile("socket:\\[(\\d+)]");
    /** {@code st} of a listening socket in /proc/net/tcp. */
    private static final String LISTEN = "0A";

    private ListeningSockets() {
    }

    static Set<String> of(long pid) throws IOException {
        Set<String> inodes = new HashSet<>();
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc", Long.toString(pid), "fd"))) {
            for (Path fd : fds) {
                try {
                    Matcher m = SOCKET_LINK.matcher(Files.readSymbolicLink(fd).toString());
                    if (m.matches()) {
                        inodes.add(m.group(1));
                    }
                } catch (IOException closedMeanwhile) {
                    // a descriptor closed while listing: not a listener we look for
                }
            }
        }
        Set<String> listening = new TreeSet<>();
        for (String table : List.of("tcp", "tcp6")) {
            Path file = Path.of("/proc", Long.toString(pid), "net", table);
            if (!Files.exists(file)) {
                continue;
            }
            List<String> lines = Files.readAllLines(file);
            for (String line : lines.subList(1, lines.size())) {
                // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
                String[] f = line.trim().split("\\s+");
                if (f.length > 9 && f[3].equals(LISTEN) && inodes.contains(f[9])) {
                    listening.add(address(f[1]));
                }
            }
        }
        return listening;
    }

    /** {@code 0100007F:1F90} (little-endian words) as {@code 127.0.0.1:8080}. */
    static String address(String hex) throws IOException {
        String[] parts = hex.split(":");
        byte[] raw = new byte[parts[0].length() / 2];
        for (int word = 0; word < raw.length / 4; word++) {
            for (int b = 0; b < 4; b++) {
                String octet = parts[0].substring(word * 8 + (3 - b) * 2, word * 8 + (3 - b) * 2 + 2);
                raw[word * 4 + b] = (byte) Integer.parseInt(octet, 16);
            }
        }
        InetAddress address = InetAddress.getByAddress(raw);
        String host = address.getHostAddress();
        int port = new BigInteger(parts[1], 16).intValue();
        // an IPv4-mapped address (a Java socket bound to an IPv4 address) reads as that IPv4 address
        return (address instanceof java.net.Inet6Address ? "[" + host + "]" : host) + ":" + port;
    }
}
