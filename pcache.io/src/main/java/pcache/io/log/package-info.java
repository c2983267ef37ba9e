/**
 * Logging of the bundles: {@link pcache.io.log.Log}, a {@code System.Logger} that writes to the
 * OSGi Log Service (R7 {@code LoggerFactory}) of the runtime the bundle runs in, so Karaf's
 * {@code log:display}, the Web Console and any {@code LogReaderService} see pcache's records with
 * their levels. Never exported: bnd copies this package privately into each bundle
 * ({@code -conditionalpackage}).
 */
package pcache.io.log;
