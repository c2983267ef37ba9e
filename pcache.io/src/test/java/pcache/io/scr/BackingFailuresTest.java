package pcache.io.scr;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.lang.reflect.Proxy;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.osgi.service.component.runtime.ServiceComponentRuntime;
import org.osgi.service.component.runtime.dto.ComponentConfigurationDTO;
import org.osgi.service.component.runtime.dto.ComponentDescriptionDTO;

import pcache.api.config.CacheDefinition;
import pcache.api.config.TargetProperties;

/** The backing devices whose activation failed, read from Declarative Services' runtime. */
class BackingFailuresTest {

    private static ComponentDescriptionDTO description(String... pids) {
        ComponentDescriptionDTO d = new ComponentDescriptionDTO();
        d.configurationPid = pids;
        return d;
    }

    private static ComponentConfigurationDTO configuration(int state, Map<String, Object> properties, String failure) {
        ComponentConfigurationDTO c = new ComponentConfigurationDTO();
        c.state = state;
        c.properties = properties;
        c.failure = failure;
        return c;
    }

    /** A runtime that knows {@code descriptions}, each with the configurations given for it. */
    private static ServiceComponentRuntime runtime(Map<ComponentDescriptionDTO, List<ComponentConfigurationDTO>> all) {
        return (ServiceComponentRuntime) Proxy.newProxyInstance(ServiceComponentRuntime.class.getClassLoader(),
                new Class<?>[] {ServiceComponentRuntime.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "getComponentDescriptionDTOs" -> all.keySet();
                    case "getComponentConfigurationDTOs" -> all.get((ComponentDescriptionDTO) args[0]);
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    /**
     * Only backing components whose activation failed are listed, by configured name, with the
     * first line of the failure without the exception class names in front of it.
     */
    @Test
    void failedBackingComponentsAreListedByNameWithTheirMessage() {
        ComponentDescriptionDTO file = description("pcache.backing.file");
        ComponentDescriptionDTO fileService = description("pcache.backing.file.internal.FileBackingService");
        ComponentDescriptionDTO target = description("pcache.target");
        String trace = "org.apache.felix.log.LogException: pcache.backing.file.internal.BackingConfigurationException:"
                + " backing device 's.backing' (pcache.backing.file): path=/d/s.backing is in use by another user\n"
                + "\tat pcache.backing.file.internal.FileBackingDevice.lock(FileBackingDevice.java:140)\n";
        ServiceComponentRuntime runtime = runtime(new java.util.LinkedHashMap<>(Map.of(
                file, List.of(
                        configuration(ComponentConfigurationDTO.FAILED_ACTIVATION, Map.of("name", "s.backing"), trace),
                        configuration(ComponentConfigurationDTO.ACTIVE, Map.of("name", "good"), null),
                        configuration(ComponentConfigurationDTO.FAILED_ACTIVATION,
                                Map.of("service.pid", "pcache.backing.file~x"), null)),
                target, List.of(configuration(ComponentConfigurationDTO.FAILED_ACTIVATION, Map.of("name", "c"),
                        "java.lang.IllegalStateException: not a backing device")),
                fileService, List.of(configuration(ComponentConfigurationDTO.FAILED_ACTIVATION,
                        Map.of("name", "s.backing"), "java.lang.IllegalStateException: a service instance")))));
        assertEquals(List.of(
                new BackingFailures.Failure("pcache.backing.file~x", "its activation failed; the log says why"),
                new BackingFailures.Failure("s.backing", "backing device 's.backing' (pcache.backing.file):"
                        + " path=/d/s.backing is in use by another user")), BackingFailures.of(runtime));
        assertEquals(List.of(), BackingFailures.of(null), "no runtime, nothing to say");
    }

    /**
     * An activation through a constructor (the NBD backing device's) keeps an
     * InvocationTargetException whose cause says why: the cause's message is the reason. A file
     * system exception's message, a bare path, keeps its type. Before, the reason was
     * "java.lang.reflect.InvocationTargetException".
     */
    @Test
    void theCauseOfAWrapperIsTheReasonAndABarePathKeepsItsType() {
        assertEquals("pcache.backing.nbd 'x': uri=nbds://h/x needs TLS credentials", BackingFailures.reason(
                "java.lang.reflect.InvocationTargetException\n"
                + "\tat java.base/jdk.internal.reflect.NativeConstructorAccessorImpl.newInstance0(Native Method)\n"
                + "Caused by: pcache.backing.nbd.internal.NbdBackingConfigurationException: pcache.backing.nbd 'x':"
                + " uri=nbds://h/x needs TLS credentials\n"
                + "\tat pcache.backing.nbd.internal.NbdBackingComponent.<init>(NbdBackingComponent.java:158)\n"
                + "\t... 30 more\n"));
        assertEquals("AccessDeniedException: /srv/disk.img", BackingFailures.reason(
                "java.nio.file.AccessDeniedException: /srv/disk.img\n\tat x.y(Z.java:1)"));
        assertEquals("IllegalStateException", BackingFailures.reason("java.lang.IllegalStateException\n\tat x.y(Z.java:1)"));
        assertEquals("backing device 'x': path=/a is busy", BackingFailures.reason(
                "org.osgi.service.component.ComponentException: java.io.IOException: wrapped\n"
                + "Caused by: pcache.backing.file.internal.BackingConfigurationException: backing device 'x': path=/a"
                + " is busy\n"));
    }

    /** A message of its own that has a colon keeps it. */
    @Test
    void aMessageIsKeptWhole() {
        assertEquals("backing device 'x': path=/a: b", BackingFailures.reason("java.io.IOException: backing device 'x':"
                + " path=/a: b"));
        assertEquals("plain words: here", BackingFailures.reason("plain words: here\n\tat x.y(Z.java:1)"));
    }

    /**
     * A cache's {@code backing.target} selects configured backing devices as their services would
     * carry their properties (the name as {@code pcache.backing.name}, the driver, the type, the
     * configured ones): their reasons are given only when every one it selects failed, since one
     * still active (an NBD export connecting) may yet bind a device.
     */
    @Test
    void aTargetWhoseEveryBackingDeviceFailedGetsTheirReasons() {
        ComponentDescriptionDTO file = description("pcache.backing.file");
        ComponentDescriptionDTO nbd = description("pcache.backing.nbd");
        ComponentDescriptionDTO target = description("pcache.target");
        ServiceComponentRuntime runtime = runtime(Map.of(
                file, List.of(
                        configuration(ComponentConfigurationDTO.FAILED_ACTIVATION, Map.of("name", "a", "path", "/a"),
                                "pcache.backing.file.internal.BackingConfigurationException: path=/a is in use\n"),
                        configuration(ComponentConfigurationDTO.ACTIVE, Map.of("name", "b"), null)),
                nbd, List.of(configuration(ComponentConfigurationDTO.FAILED_ACTIVATION, Map.of("name", "c"),
                        "java.lang.IllegalArgumentException: uri=nbd://h/c is refused")),
                target, List.of(configuration(ComponentConfigurationDTO.FAILED_ACTIVATION, Map.of("name", "d"),
                        "java.lang.IllegalStateException: not a backing device"))));
        String a = "backing device a cannot be opened: path=/a is in use";
        String c = "backing device c cannot be opened: uri=nbd://h/c is refused";
        assertEquals(a, BackingFailures.failedFor(runtime, CacheDefinition.backingFilter("a")));
        assertNull(BackingFailures.failedFor(runtime, CacheDefinition.backingFilter("b")), "active: it may still bind a device");
        assertNull(BackingFailures.failedFor(runtime, "(|(pcache.backing.name=a)(pcache.backing.name=b))"),
                "one of those selected is active");
        assertEquals(a + "; " + c, BackingFailures.failedFor(runtime, "(|(pcache.backing.name=c)(pcache.backing.name=a))"));
        assertEquals(c, BackingFailures.failedFor(runtime,
                "(&(objectClass=pcache.api.spi.BackingDevice)(pcache.backing.driver=nbd))"), "by type and driver");
        assertEquals(a, BackingFailures.failedFor(runtime, "(path=/a)"), "by a configured property");
        assertNull(BackingFailures.failedFor(runtime, CacheDefinition.backingFilter("d")), "not a backing device");
        assertEquals(a, BackingFailures.failedFor(runtime, "(PCACHE.BACKING.NAME=a)"), "keys match in any case, as a service's");
        assertNull(BackingFailures.failedFor(runtime, TargetProperties.BACKING_TARGET_DEFAULT), "none configured");
        assertNull(BackingFailures.failedFor(runtime, "(pcache.backing.name=a"), "a filter that does not parse");
        assertNull(BackingFailures.failedFor(null, CacheDefinition.backingFilter("a")), "no runtime");
    }

    /**
     * What a service would not carry does not match: the file device hands on its configured
     * properties but not the configuration's own ({@code service.pid}, {@code component.name}); an
     * NBD device's service carries its name and driver, not its configuration ({@code uri}), which
     * a target naming it then never selects: the cache waits, as before.
     */
    @Test
    void onlyWhatTheServiceWouldCarryMatches() {
        ComponentDescriptionDTO file = description("pcache.backing.file");
        ComponentDescriptionDTO nbd = description("pcache.backing.nbd");
        ServiceComponentRuntime runtime = runtime(Map.of(
                file, List.of(configuration(ComponentConfigurationDTO.FAILED_ACTIVATION, Map.of("name", "a",
                        "service.pid", "pcache.backing.file~a", "component.name", "x", ".secret", "s"),
                        "java.io.IOException: gone")),
                nbd, List.of(configuration(ComponentConfigurationDTO.FAILED_ACTIVATION, Map.of("name", "c",
                        "uri", "nbd://h/c"), "java.io.IOException: refused"))));
        assertNull(BackingFailures.failedFor(runtime, "(service.pid=pcache.backing.file~a)"));
        assertNull(BackingFailures.failedFor(runtime, "(component.name=x)"));
        assertNull(BackingFailures.failedFor(runtime, "(.secret=s)"));
        assertNull(BackingFailures.failedFor(runtime, "(uri=nbd://h/c)"));
        assertEquals("backing device c cannot be opened: refused", BackingFailures.failedFor(runtime,
                "(&(pcache.backing.name=c)(pcache.backing.driver=nbd))"));
        assertEquals("backing device a cannot be opened: gone", BackingFailures.failedFor(runtime,
                "(&(pcache.backing.name=a)(pcache.backing.driver=file))"));
    }
}
