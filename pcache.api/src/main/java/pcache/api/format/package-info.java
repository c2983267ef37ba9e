/**
 * dm-pcache's on-media format as constants shared by every provider that reads or writes a cache
 * device: where each structure lives, its size and magic numbers, and the rules of the common
 * metadata header (dm-pcache-reference §2). {@link pcache.api.format.PcacheFormat} places the
 * records on the device, {@link pcache.api.format.PcacheLayout} lays out the fields inside each
 * record. All multi-byte fields on media are little-endian.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.1.0")
package pcache.api.format;
