/**
 * JMH benchmarks of pcache. The {@code *State} classes are public so that later benchmarks (the
 * engine's) measure against the same floors with the same set-up: see docs/BENCHMARKS.md.
 */
package pcache.bench;
