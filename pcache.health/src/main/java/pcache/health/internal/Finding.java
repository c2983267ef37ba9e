package pcache.health.internal;

import java.util.List;

import org.apache.felix.hc.api.Result;
import org.apache.felix.hc.api.ResultLog;

/**
 * What one check found about one cache: a status and a message naming the cache, what is wrong
 * and what to do.
 *
 * @param status OK, or how bad it is
 * @param message one line, starting with {@code cache NAME: }
 */
record Finding(Result.Status status, String message) {

    static Finding ok(String cache, String text) {
        return new Finding(Result.Status.OK, "cache " + cache + ": " + text);
    }

    static Finding warn(String cache, String text) {
        return new Finding(Result.Status.WARN, "cache " + cache + ": " + text);
    }

    static Finding critical(String cache, String text) {
        return new Finding(Result.Status.CRITICAL, "cache " + cache + ": " + text);
    }

    /**
     * The check's result: one log entry per finding, its status the worst of them; with no
     * finding (no cache is open) a single OK entry says so.
     */
    static Result result(List<Finding> findings) {
        ResultLog log = new ResultLog();
        if (findings.isEmpty()) {
            log.add(new ResultLog.Entry(Result.Status.OK, "no open cache"));
        }
        for (Finding f : findings) {
            log.add(new ResultLog.Entry(f.status(), f.message()));
        }
        return new Result(log);
    }
}
