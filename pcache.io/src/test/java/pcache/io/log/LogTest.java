package pcache.io.log;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.io.IOException;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import org.junit.jupiter.api.Test;

/** The bundles' logger: the System.Logger outside a framework, the OSGi Logger's calls inside one. */
class LogTest {

    /** A java.util.logging handler that keeps what it is given. */
    private static Handler capture(List<LogRecord> records) {
        return new Handler() {
            @Override
            public void publish(LogRecord record) {
                records.add(record);
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
    }

    @Test
    void outsideAFrameworkRecordsGoToTheSystemLogger() {
        List<LogRecord> records = new ArrayList<>();
        Handler capture = capture(records);
        Logger jul = Logger.getLogger(LogTest.class.getName());
        jul.addHandler(capture);
        jul.setLevel(java.util.logging.Level.ALL);
        jul.setUseParentHandlers(false); // the expected failure stays out of the build's output
        try {
            System.Logger log = Log.of(LogTest.class);
            assertEquals(LogTest.class.getName(), log.getName());
            IOException failure = new IOException("disk gone");
            log.log(System.Logger.Level.WARNING, "cache {0}: {1}", "a", "backing device offline");
            log.log(System.Logger.Level.ERROR, () -> "cache a: write-back failed", failure);
            log.log(System.Logger.Level.INFO, "cache a open");
            assertEquals(3, records.size());
            assertEquals("cache {0}: {1}", records.get(0).getMessage());
            assertArrayEquals(new Object[] {"a", "backing device offline"}, records.get(0).getParameters());
            assertEquals(java.util.logging.Level.SEVERE, records.get(1).getLevel());
            assertSame(failure, records.get(1).getThrown());
            assertEquals("cache a open", records.get(2).getMessage());
        } finally {
            jul.removeHandler(capture);
            jul.setLevel(null);
            jul.setUseParentHandlers(true);
        }
    }

    @Test
    void anOsgiLoggerGetsTheMessageAsAFormatWithItsPlaceholdersEscapedAndTheExceptionLast() {
        List<String> calls = new ArrayList<>();
        List<Object[]> arguments = new ArrayList<>();
        org.osgi.service.log.Logger osgi = (org.osgi.service.log.Logger) Proxy.newProxyInstance(
                LogTest.class.getClassLoader(), new Class<?>[] {org.osgi.service.log.Logger.class},
                (proxy, method, args) -> {
                    calls.add(method.getName() + ":" + args[0]);
                    arguments.add((Object[]) args[1]);
                    return null;
                });
        IOException failure = new IOException("x");
        OsgiSink.write(osgi, System.Logger.Level.WARNING, "map {} of {a}", null);
        OsgiSink.write(osgi, System.Logger.Level.ERROR, "failed", failure);
        OsgiSink.write(osgi, System.Logger.Level.DEBUG, null, null);
        OsgiSink.write(osgi, System.Logger.Level.TRACE, "t", null);
        OsgiSink.write(osgi, System.Logger.Level.INFO, "i", null);
        assertEquals(List.of("warn:map \\{} of {a}", "error:failed", "debug:", "trace:t", "info:i"), calls);
        assertEquals(0, arguments.get(0).length);
        assertArrayEquals(new Object[] {failure}, arguments.get(1));
    }

    /**
     * Where the OSGi classes are missing (the benchmarks' jar, any plain class path without them),
     * a logger still logs: {@code Log} is loaded by a class loader that sees pcache.io.log's classes
     * and the JDK only.
     */
    @Test
    void withoutTheOsgiClassesOnTheClassPathItLogsToTheSystemLogger() throws Exception {
        java.net.URL classes = Log.class.getProtectionDomain().getCodeSource().getLocation();
        try (java.net.URLClassLoader plain = new java.net.URLClassLoader(new java.net.URL[] {classes},
                ClassLoader.getPlatformClassLoader())) {
            org.junit.jupiter.api.Assertions.assertThrows(ClassNotFoundException.class,
                    () -> plain.loadClass("org.osgi.framework.FrameworkUtil"));
            Class<?> log = plain.loadClass(Log.class.getName());
            System.Logger logger = (System.Logger) log.getMethod("of", Class.class).invoke(null, log);
            Logger jul = Logger.getLogger(Log.class.getName());
            List<LogRecord> records = new ArrayList<>();
            Handler capture = capture(records);
            jul.addHandler(capture);
            jul.setUseParentHandlers(false);
            try {
                logger.log(System.Logger.Level.WARNING, "no OSGi here");
                logger.log(System.Logger.Level.WARNING, () -> "still none");
                assertEquals(List.of("no OSGi here", "still none"), records.stream().map(LogRecord::getMessage).toList());
            } finally {
                jul.removeHandler(capture);
                jul.setUseParentHandlers(true);
            }
        }
    }
}
