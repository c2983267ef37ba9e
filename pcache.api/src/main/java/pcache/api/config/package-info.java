/**
 * The configuration contract of pcache, written once: the ConfigAdmin PIDs and property names,
 * their defaults and ranges, the cache-name rule, the value parsers, the validation of a cache
 * definition (which reports every problem) and the mapping from a cache definition to the
 * ConfigAdmin dictionaries that make the cache.
 *
 * <p>Its users: the launcher (which has this package on its own class path: it is not a bundle),
 * the shell's {@code pcache:create} and {@code pcache:swap-backing}, and the cache target, whose
 * metatype refers to these constants and whose configuration is checked with the same rules.
 * The NBD export's configuration is {@link pcache.api.config.ExportDefinition}.
 *
 * <p>Everything here is plain Java on top of the JDK and the rest of pcache.api; nothing needs a
 * running framework.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.8.0")
package pcache.api.config;
