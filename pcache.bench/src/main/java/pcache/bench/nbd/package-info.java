/**
 * The NBD load harness: pcache's export against nbdkit, qemu-nbd and nbdkit memory with fio's
 * {@code nbd} engine ({@link pcache.bench.nbd.NbdBench}); results in docs/BENCHMARKS.md.
 */
package pcache.bench.nbd;
