package pcache.engine.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;

import pcache.api.BlockExtent;
import pcache.api.CacheConditions;
import pcache.api.CacheDevice;
import pcache.api.CacheMode;
import pcache.api.CacheStatistics;
import pcache.api.CacheStatus;

/**
 * The registered service of one open cache: a {@link CacheDevice} that delegates every call to
 * the cache's {@link CacheDeviceFacade}.
 *
 * <p>A DS factory component ({@value #FACTORY}): {@link PcacheTargetComponent} opens the cache on
 * its control thread and then asks the {@code ComponentFactory} for an instance, handing over the
 * facade in the private component property {@value #FACADE} (DS does not publish properties whose
 * names start with a dot) and the service properties ({@value CacheDevice#NAME},
 * {@code pcache.cache.dev}) in the others. DS registers the service when the instance is created
 * and withdraws it when the target component disposes the instance, before it closes the cache.
 * No configuration applies to the factory itself.
 *
 * <p>Why a delegate and not the facade itself: DS registers an instance of the component's class
 * that it constructs itself, never an object handed to it. Making the facade that class would
 * mean building it inside {@code newInstance} (engine, backing holder and mode passed as private
 * properties, entering a non-writeback mode during activation) and splitting its life between DS,
 * which disposes it, and the target component, which swaps its engine and closes it; the tests
 * that construct a facade directly would need the same indirection. The delegate keeps the facade
 * a plain object owned by the target component and costs one call per request. Consumers (the NBD
 * export, {@link CacheMBeanComponent}, the shell) bind to {@link CacheDevice} only and nothing
 * casts the service to the facade, so they are served unchanged; the facade's control methods
 * ({@code close}, {@code replaceEngine}, ...) stay out of their reach. The service object is one
 * object for the life of the registration, as the facade was, so consumers that key on it by
 * identity still see one cache across engine swaps.
 */
@Component(factory = CacheDeviceService.FACTORY, service = CacheDevice.class,
        configurationPolicy = ConfigurationPolicy.IGNORE)
public final class CacheDeviceService implements CacheDevice {

    /** The {@code component.factory} of this component. */
    public static final String FACTORY = "pcache.cache.device";

    /** Private component property: the open cache's {@link CacheDeviceFacade}. */
    static final String FACADE = ".pcache.cache.facade";

    private final CacheDeviceFacade facade;

    /** Serves the facade in the component property {@value #FACADE}. */
    @Activate
    public CacheDeviceService(Map<String, Object> properties) {
        Object facade = properties.get(FACADE);
        if (!(facade instanceof CacheDeviceFacade open)) {
            throw new IllegalArgumentException(FACTORY + ": an instance needs the open cache's facade in "
                    + "the property " + FACADE + ", not " + facade);
        }
        this.facade = open;
    }

    @Override
    public String name() {
        return facade.name();
    }

    @Override
    public long sizeBytes() {
        return facade.sizeBytes();
    }

    @Override
    public int logicalBlockSize() {
        return facade.logicalBlockSize();
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        facade.read(offset, dst);
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        facade.write(offset, src, fua);
    }

    @Override
    public void flush() throws IOException {
        facade.flush();
    }

    @Override
    public boolean tryRead(long offset, ByteBuffer dst) throws IOException {
        return facade.tryRead(offset, dst);
    }

    @Override
    public ReadView tryReadView(long offset, int length) throws IOException {
        return facade.tryReadView(offset, length);
    }

    @Override
    public boolean tryWrite(long offset, ByteBuffer src, boolean fua) throws IOException {
        return facade.tryWrite(offset, src, fua);
    }

    @Override
    public boolean tryWriteFrom(long offset, int length, boolean fua, WriteSource source) throws IOException {
        return facade.tryWriteFrom(offset, length, fua, source);
    }

    @Override
    public boolean tryFlush() throws IOException {
        return facade.tryFlush();
    }

    @Override
    public void trim(long offset, long length) throws IOException {
        facade.trim(offset, length);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean fua) throws IOException {
        facade.writeZeroes(offset, length, fua);
    }

    @Override
    public List<BlockExtent> blockStatus(long offset, long length, int maxExtents) throws IOException {
        return facade.blockStatus(offset, length, maxExtents);
    }

    @Override
    public List<BlockExtent> dirtyStatus(long offset, long length, int maxExtents) throws IOException {
        return facade.dirtyStatus(offset, length, maxExtents);
    }

    @Override
    public CacheStatus status() {
        return facade.status();
    }

    @Override
    public CacheStatistics statistics() {
        return facade.statistics();
    }

    @Override
    public CacheConditions conditions() {
        return facade.conditions();
    }

    @Override
    public CacheMode mode() {
        return facade.mode();
    }

    @Override
    public void setMode(CacheMode mode) throws IOException {
        facade.setMode(mode);
    }

    @Override
    public int gcPercent() {
        return facade.gcPercent();
    }

    @Override
    public void setGcPercent(int percent) throws IOException {
        facade.setGcPercent(percent);
    }

    @Override
    public void drain(DrainProgress progress) throws IOException {
        facade.drain(progress);
    }

    @Override
    public String toString() {
        return facade.toString();
    }
}
