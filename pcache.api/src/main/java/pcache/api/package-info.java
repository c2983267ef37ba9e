/**
 * The user-side contract of pcache: block devices, cache devices, their status and statistics,
 * and the exceptions block I/O can raise.
 *
 * <p>All offsets and lengths are in bytes. Unless a method says otherwise, every method of every
 * type here is safe to call from many threads at once.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.7.0")
package pcache.api;
