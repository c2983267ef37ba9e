package pcache.engine.internal;

import java.lang.management.ManagementFactory;
import java.util.IdentityHashMap;
import java.util.Map;
import javax.management.InstanceAlreadyExistsException;
import javax.management.InstanceNotFoundException;
import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.MalformedObjectNameException;
import javax.management.ObjectName;

import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;

import pcache.api.CacheDevice;
import pcache.io.log.Log;

/**
 * Registers a {@link CacheMBean} named {@code pcache:type=Cache,name=<name>} in the platform
 * MBeanServer for every {@link CacheDevice} service, and unregisters it when the service goes
 * away. It tracks the services rather than being told by the cache target, so the target's
 * component knows nothing of JMX.
 */
@Component(immediate = true, service = {})
public final class CacheMBeanComponent {

    private static final System.Logger LOG = Log.of(CacheMBeanComponent.class);

    private final MBeanServer server;
    private final Map<CacheDevice, ObjectName> registered = new IdentityHashMap<>();

    public CacheMBeanComponent() {
        this(ManagementFactory.getPlatformMBeanServer());
    }

    CacheMBeanComponent(MBeanServer server) {
        this.server = server;
    }

    /** The object name of cache {@code name}'s MBean. */
    static ObjectName objectName(String name) throws MalformedObjectNameException {
        boolean plain = name.matches("[A-Za-z0-9_.-]+");
        return new ObjectName("pcache:type=Cache,name=" + (plain ? name : ObjectName.quote(name)));
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC)
    void bindCache(CacheDevice device, Map<String, Object> properties) {
        Object property = properties.get(CacheDevice.NAME);
        String name = property instanceof String s && !s.isEmpty() ? s : device.name();
        try {
            ObjectName on = objectName(name);
            server.registerMBean(new CacheMBean(device), on);
            synchronized (registered) {
                registered.put(device, on);
            }
        } catch (InstanceAlreadyExistsException e) {
            LOG.log(System.Logger.Level.WARNING, "cache ''{0}'': no MBean, another cache of that name has one", name);
        } catch (JMException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "cache ''{0}'': cannot register its MBean: {1}", name, e.toString());
        }
    }

    void unbindCache(CacheDevice device) {
        ObjectName on;
        synchronized (registered) {
            on = registered.remove(device);
        }
        unregister(on);
    }

    @Deactivate
    void deactivate() {
        Map<CacheDevice, ObjectName> all;
        synchronized (registered) {
            all = new IdentityHashMap<>(registered);
            registered.clear();
        }
        all.values().forEach(this::unregister);
    }

    private void unregister(ObjectName on) {
        if (on == null) {
            return;
        }
        try {
            server.unregisterMBean(on);
        } catch (InstanceNotFoundException e) {
            // already gone
        } catch (JMException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot unregister MBean {0}: {1}", on, e.toString());
        }
    }
}
