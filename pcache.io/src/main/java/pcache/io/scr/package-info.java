/**
 * What Declarative Services' runtime knows of the backing devices: the configured ones whose
 * activation failed, and why ({@link pcache.io.scr.BackingFailures}). Never exported: bnd copies
 * this package privately into each bundle that uses it ({@code -conditionalpackage}).
 */
package pcache.io.scr;
