package pcache.bench.nbd;

/** The NBD servers compared (issue 4): ours and its peers on the same backing disk. */
enum Peer {
    /** The pcache distribution: cache device on tmpfs (the pmem stand-in), backing file on disk. */
    PCACHE("pcache", true),
    /**
     * Another pcache distribution ({@code --baseline=DIR}, e.g. built from an earlier commit), run
     * the same way: before/after comparisons of a change in one run.
     */
    PCACHE_BASELINE("pcache baseline", true),
    /** nbdkit's file plugin on the backing file. */
    NBDKIT_FILE("nbdkit file", true),
    /** nbdkit's file plugin under its cache filter in write-back mode. */
    NBDKIT_FILE_CACHE("nbdkit file + cache filter (writeback)", true),
    /** qemu-nbd serving the raw backing file. */
    QEMU_NBD_RAW("qemu-nbd raw", true),
    /** qemu-nbd serving a qcow2 overlay whose backing file is the raw file. */
    QEMU_NBD_QCOW2("qemu-nbd qcow2 overlay", true),
    /** nbdkit's memory plugin: keeps nothing, the ceiling without persistence. */
    NBDKIT_MEMORY("nbdkit memory", false);

    private final String label;
    private final boolean persistent;

    Peer(String label, boolean persistent) {
        this.label = label;
        this.persistent = persistent;
    }

    String label() {
        return label;
    }

    /** Whether this is a pcache distribution (settled by waiting until its cache is clean). */
    boolean pcache() {
        return this == PCACHE || this == PCACHE_BASELINE;
    }

    /** Whether a flush makes data durable on the disk (every peer but the memory plugin). */
    boolean persistent() {
        return persistent;
    }
}
