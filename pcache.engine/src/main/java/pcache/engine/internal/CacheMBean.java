package pcache.engine.internal;

import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import javax.management.Attribute;
import javax.management.AttributeList;
import javax.management.AttributeNotFoundException;
import javax.management.DynamicMBean;
import javax.management.MBeanAttributeInfo;
import javax.management.MBeanException;
import javax.management.MBeanInfo;
import javax.management.MBeanOperationInfo;
import javax.management.MBeanParameterInfo;
import javax.management.ReflectionException;

import pcache.api.CacheDevice;
import pcache.api.CacheStatistics;
import pcache.api.CacheStatus;

/**
 * One cache as a JMX MBean: every field of {@link CacheStatus} and {@link CacheStatistics} as a
 * read-only attribute (named after the record component, capitalised: {@code ReadHits},
 * {@code KeyHead}), plus {@code DmStatusLine}, {@code Clean}, {@code HitRatio},
 * {@code ByteHitRatio} and {@code SizeBytes}; operations {@code flush} and {@code drain}. The
 * attributes follow the API records, so a field added there appears here. Values are JMX open
 * types (numbers, booleans, strings: positions print as {@code seg:off}, enums by name), so any
 * JMX console shows them without pcache's classes.
 */
final class CacheMBean implements DynamicMBean {

    /** How one attribute is read: from the status, from the statistics, or from the device. */
    private record Getter(String type, String description, Function<Snapshot, Object> read) {
    }

    /** What one read looks at; only the parts an attribute needs are fetched. */
    private static final class Snapshot {
        private final CacheDevice device;
        private CacheStatus status;
        private CacheStatistics statistics;

        Snapshot(CacheDevice device) {
            this.device = device;
        }

        CacheStatus status() {
            if (status == null) {
                status = device.status();
            }
            return status;
        }

        CacheStatistics statistics() {
            if (statistics == null) {
                statistics = device.statistics();
            }
            return statistics;
        }
    }

    private final CacheDevice device;
    private final Map<String, Getter> attributes = new LinkedHashMap<>();
    private final MBeanInfo info;

    CacheMBean(CacheDevice device) {
        this.device = device;
        attributes.put("SizeBytes", new Getter("long", "size of the cached (logical) device in bytes",
                s -> s.device.sizeBytes()));
        attributes.put("DmStatusLine", new Getter("java.lang.String",
                "the nine status fields as dmsetup status prints dm-pcache's", s -> s.status().dmStatusLine()));
        attributes.put("Clean", new Getter("boolean", "nothing left to write back (dirty_tail = key_head)",
                s -> s.status().clean()));
        for (RecordComponent c : CacheStatus.class.getRecordComponents()) {
            attributes.put(capitalise(c.getName()), new Getter(openType(c.getType()), "status: " + c.getName(),
                    s -> value(c, s.status())));
        }
        for (RecordComponent c : CacheStatistics.class.getRecordComponents()) {
            attributes.put(capitalise(c.getName()), new Getter(openType(c.getType()), "statistics: " + c.getName(),
                    s -> value(c, s.statistics())));
        }
        attributes.put("HitRatio", new Getter("double", "read requests served entirely from the cache / read"
                + " requests (0 when there were none)", s -> ratio(s.statistics().readHits(), s.statistics().readRequests())));
        attributes.put("ByteHitRatio", new Getter("double", "bytes read from the cache / bytes read (0 when none)",
                s -> ratio(s.statistics().bytesReadFromCache(), s.statistics().bytesRead())));
        List<MBeanAttributeInfo> infos = new ArrayList<>();
        attributes.forEach((name, g) -> infos.add(new MBeanAttributeInfo(name, g.type(), g.description(), true, false,
                false)));
        MBeanOperationInfo[] operations = {
            new MBeanOperationInfo("flush", "persist every open key set (as a client's flush does)",
                    new MBeanParameterInfo[0], "void", MBeanOperationInfo.ACTION),
            new MBeanOperationInfo("drain", "write back everything dirty now and flush the backing device; returns"
                    + " a summary", new MBeanParameterInfo[0], "java.lang.String", MBeanOperationInfo.ACTION)};
        this.info = new MBeanInfo(CacheMBean.class.getName(), "pcache cache '" + device.name()
                + "': dm-pcache status fields and pcache statistics", infos.toArray(MBeanAttributeInfo[]::new), null,
                operations, null);
    }

    private static String capitalise(String name) {
        return Character.toUpperCase(name.charAt(0)) + name.substring(1);
    }

    private static String openType(Class<?> type) {
        if (type == long.class || type == int.class || type == boolean.class || type == double.class) {
            return type.getName();
        }
        return "java.lang.String";
    }

    private static Object value(RecordComponent c, Record r) {
        try {
            Object v = c.getAccessor().invoke(r);
            if (v == null || v instanceof Number || v instanceof Boolean) {
                return v;
            }
            if (v instanceof Enum<?> e) {
                return e.name().toLowerCase(Locale.ROOT);
            }
            return v.toString();
        } catch (IllegalAccessException | InvocationTargetException e) {
            throw new IllegalStateException("cannot read " + c.getName() + ": " + e, e);
        }
    }

    private static double ratio(long part, long whole) {
        return whole == 0 ? 0 : (double) part / whole;
    }

    @Override
    public Object getAttribute(String attribute) throws AttributeNotFoundException, MBeanException {
        Getter g = attributes.get(attribute);
        if (g == null) {
            throw new AttributeNotFoundException("cache '" + device.name() + "' has no attribute " + attribute);
        }
        try {
            return g.read().apply(new Snapshot(device));
        } catch (RuntimeException e) {
            throw new MBeanException(new Exception(e.getMessage()), "reading " + attribute + " of cache '"
                    + device.name() + "' failed: " + e.getMessage());
        }
    }

    @Override
    public AttributeList getAttributes(String[] names) {
        Snapshot s = new Snapshot(device); // one status and one statistics snapshot for all of them
        AttributeList list = new AttributeList();
        for (String name : names) {
            Getter g = attributes.get(name);
            if (g != null) {
                try {
                    list.add(new Attribute(name, g.read().apply(s)));
                } catch (RuntimeException e) {
                    // an attribute that cannot be read is left out, as JMX specifies
                }
            }
        }
        return list;
    }

    @Override
    public void setAttribute(Attribute attribute) throws AttributeNotFoundException {
        throw new AttributeNotFoundException("the attributes of cache '" + device.name() + "' are read-only; "
                + attribute.getName() + " is changed with the pcache shell (pcache:gc-percent, pcache:mode)");
    }

    @Override
    public AttributeList setAttributes(AttributeList list) {
        return new AttributeList();
    }

    @Override
    public Object invoke(String action, Object[] params, String[] signature) throws MBeanException, ReflectionException {
        if (params != null && params.length > 0) {
            throw new ReflectionException(new NoSuchMethodException(action + " with " + params.length + " parameters"),
                    "flush and drain take no parameters");
        }
        try {
            switch (action) {
                case "flush":
                    device.flush();
                    return null;
                case "drain": {
                    long before = device.statistics().dirtyBytes();
                    long start = System.nanoTime();
                    device.drain(null);
                    return String.format(Locale.ROOT, "cache %s drained in %.1f s (%d bytes were dirty)",
                            device.name(), (System.nanoTime() - start) / 1e9, before);
                }
                default:
                    throw new ReflectionException(new NoSuchMethodException(action),
                            "cache MBeans have the operations flush and drain, not " + action);
            }
        } catch (IOException | RuntimeException e) {
            // a plain exception: JMX clients need not have pcache's exception classes
            throw new MBeanException(new IOException(e.getMessage()), action + " of cache '" + device.name()
                    + "' failed: " + e.getMessage());
        }
    }

    @Override
    public MBeanInfo getMBeanInfo() {
        return info;
    }
}
