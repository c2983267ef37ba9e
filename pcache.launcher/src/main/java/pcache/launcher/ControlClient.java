package pcache.launcher;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** {@code pcache ctl "COMMAND"}: sends one command to a running instance and prints its answer. */
public final class ControlClient {

    private ControlClient() {
    }

    /**
     * Sends {@code command} to the instance listening on {@code socket}, copies its output to
     * {@code out} and its errors to {@code err}.
     *
     * @return the command's exit status, or 1 if no instance answered
     */
    public static int send(Path socket, String command, OutputStream out, PrintStream err) {
        if (command.indexOf('\n') >= 0 || command.indexOf('\r') >= 0) {
            err.println("pcache ctl: the command must be one line (separate commands with ';')");
            return 2;
        }
        if (command.getBytes(StandardCharsets.UTF_8).length > ControlProtocol.MAX_COMMAND_BYTES) {
            err.println("pcache ctl: the command line is longer than " + ControlProtocol.MAX_COMMAND_BYTES
                    + " bytes, the most the control socket takes");
            return 2;
        }
        if (!Files.exists(socket)) {
            err.println("pcache ctl: no running pcache instance: " + socket + " does not exist "
                    + "(start one with --no-shell, with the same pcache.data)");
            return 1;
        }
        try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            OutputStream request = Channels.newOutputStream(channel);
            request.write((command + "\n").getBytes(StandardCharsets.UTF_8));
            request.flush();
            channel.shutdownOutput();
            InputStream answer = Channels.newInputStream(channel);
            ControlProtocol.Header header = ControlProtocol.readHeader(answer);
            out.write(answer.readNBytes(header.outBytes()));
            out.flush();
            err.write(answer.readNBytes(header.errBytes()));
            err.flush();
            return header.status();
        } catch (ConnectException e) {
            err.println("pcache ctl: nobody listens on " + socket + " (stale socket of a stopped instance?)");
            return 1;
        } catch (IOException e) {
            err.println("pcache ctl: " + socket + ": " + e.getMessage());
            return 1;
        }
    }
}
