package pcache.launcher;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The control socket's protocol, one exchange per connection. The client sends one command line
 * in UTF-8 ending with {@code \n}. The server answers with a header line
 * {@code pcache-ctl status=<n> out=<bytes> err=<bytes>\n}, then the command's standard output,
 * then its error output, and closes.
 */
public final class ControlProtocol {

    /** Longest accepted command line, in bytes. */
    public static final int MAX_COMMAND_BYTES = 64 * 1024;
    private static final int MAX_HEADER_BYTES = 200;
    private static final Pattern HEADER = Pattern.compile("pcache-ctl status=(\\d+) out=(\\d+) err=(\\d+)");

    private ControlProtocol() {
    }

    /** The parsed header of an answer. */
    public record Header(int status, int outBytes, int errBytes) {
        /** The header line, with its newline. */
        public String line() {
            return "pcache-ctl status=" + status + " out=" + outBytes + " err=" + errBytes + "\n";
        }
    }

    /**
     * Reads bytes up to {@code \n} (not included) or end of stream.
     *
     * @return the line, or null at end of stream before any byte
     * @throws IOException if the line is longer than {@code maxBytes}
     */
    public static String readLine(InputStream in, int maxBytes) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) >= 0 && b != '\n') {
            if (line.size() >= maxBytes) {
                throw new LineTooLong(maxBytes);
            }
            line.write(b);
        }
        if (b < 0 && line.size() == 0) {
            return null;
        }
        return line.toString(StandardCharsets.UTF_8);
    }

    /** A line longer than its reader takes. */
    public static final class LineTooLong extends IOException {
        private static final long serialVersionUID = 1L;

        LineTooLong(int maxBytes) {
            super("line longer than " + maxBytes + " bytes");
        }
    }

    /** Reads and parses the answer's header line. */
    public static Header readHeader(InputStream in) throws IOException {
        String line = readLine(in, MAX_HEADER_BYTES);
        Matcher m = HEADER.matcher(line == null ? "" : line);
        if (!m.matches()) {
            throw new IOException("unexpected answer from the control socket: '" + line + "'");
        }
        return new Header(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)));
    }
}
