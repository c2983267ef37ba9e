/**
 * The lock on a device's file itself (open file description locks, and a block device's
 * exclusive claim), through JNA. Never exported: bnd copies this package privately into each
 * bundle that locks devices ({@code -conditionalpackage}); those import JNA optionally or
 * dynamically, and the lock says when it is not there.
 */
package pcache.io.lock;
