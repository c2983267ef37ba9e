package pcache.engine.internal.engine;

/**
 * Cache space taken for one key: {@code length} bytes at {@code offset} of the data area of cache
 * segment {@code segment}, whose generation was {@code generation}; holds one segment reference.
 */
record Allocation(int segment, int offset, long generation, int length) {
}
