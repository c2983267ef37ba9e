/**
 * The service provider interface of pcache: the parts a cache is assembled from. Each part is
 * an OSGi service with identifying properties (the {@code *_TYPE}/{@code *_NAME} constants of
 * each interface); a cache's configuration selects them with reference target filters, so
 * ConfigAdmin alone decides what a cache is made of.
 *
 * <p>Per-cache state (segment allocator, key index, key log) comes from factories, so every
 * cache owns its instances.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.9.0")
package pcache.api.spi;
