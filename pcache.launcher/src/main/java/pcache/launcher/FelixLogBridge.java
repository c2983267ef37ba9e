package pcache.launcher;

import java.util.logging.Level;
import java.util.logging.Logger;

import org.osgi.framework.Bundle;
import org.osgi.framework.ServiceReference;

/**
 * Sends the Felix framework's own log (resolver errors, bundle start failures) to
 * java.util.logging instead of stdout. Passed to the framework as {@code felix.log.logger}.
 */
final class FelixLogBridge extends org.apache.felix.framework.Logger {

    private static final Logger LOG = Logger.getLogger("org.apache.felix.framework");

    FelixLogBridge(int felixLevel) {
        setLogLevel(felixLevel);
    }

    @Override
    protected void doLog(Bundle bundle, @SuppressWarnings("rawtypes") ServiceReference sr, int level,
            String msg, Throwable throwable) {
        String prefix = bundle == null ? "" : "[" + bundle.getSymbolicName() + "] ";
        LOG.log(julLevel(level), prefix + msg, throwable);
    }

    @Override
    protected void doLog(int level, String msg, Throwable throwable) {
        LOG.log(julLevel(level), msg, throwable);
    }

    private static Level julLevel(int felixLevel) {
        return switch (felixLevel) {
            case LOG_ERROR -> Level.SEVERE;
            case LOG_WARNING -> Level.WARNING;
            case LOG_INFO -> Level.INFO;
            default -> Level.FINE;
        };
    }
}
