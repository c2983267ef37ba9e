/**
 * File I/O shared by the bundles that open files and block devices as devices (pmem mappings,
 * file backing devices): an interrupt-safe channel, size probing, write-permission checks. Never
 * exported: bnd copies this package privately into each bundle that uses it
 * ({@code -conditionalpackage}), so those bundles still depend on pcache.api alone.
 */
package pcache.io;
