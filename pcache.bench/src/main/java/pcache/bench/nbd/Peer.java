package pcache.bench.nbd;

/**
 * The NBD servers compared (issue 4): ours and its peers on the same backing disk. The {@code *_TLS}
 * servers are the same as their clear-text counterparts but require TLS (issue 13), with the
 * credentials of {@code --tls}; they run only when {@code --peers} names them.
 */
enum Peer {
    /** The pcache distribution: cache device on tmpfs (the pmem stand-in), backing file on disk. */
    PCACHE("pcache", true, false),
    /**
     * Another pcache distribution ({@code --baseline=DIR}, e.g. built from an earlier commit), run
     * the same way: before/after comparisons of a change in one run.
     */
    PCACHE_BASELINE("pcache baseline", true, false),
    /** nbdkit's file plugin on the backing file. */
    NBDKIT_FILE("nbdkit file", true, false),
    /** nbdkit's file plugin under its cache filter in write-back mode. */
    NBDKIT_FILE_CACHE("nbdkit file + cache filter (writeback)", true, false),
    /** qemu-nbd serving the raw backing file. */
    QEMU_NBD_RAW("qemu-nbd raw", true, false),
    /** qemu-nbd serving a qcow2 overlay whose backing file is the raw file. */
    QEMU_NBD_QCOW2("qemu-nbd qcow2 overlay", true, false),
    /** nbdkit's memory plugin: keeps nothing, the ceiling without persistence. */
    NBDKIT_MEMORY("nbdkit memory", false, false),
    /** {@link #PCACHE} with {@code nbd.tls = require}. */
    PCACHE_TLS("pcache TLS", true, true),
    /** {@link #NBDKIT_FILE} with {@code --tls=require}. */
    NBDKIT_FILE_TLS("nbdkit file TLS", true, true),
    /** {@link #QEMU_NBD_RAW} with {@code --tls-creds}. */
    QEMU_NBD_RAW_TLS("qemu-nbd raw TLS", true, true),
    /** {@link #NBDKIT_MEMORY} with {@code --tls=require}: the ceiling of TLS without persistence. */
    NBDKIT_MEMORY_TLS("nbdkit memory TLS", false, true);

    private final String label;
    private final boolean persistent;
    private final boolean tls;

    Peer(String label, boolean persistent, boolean tls) {
        this.label = label;
        this.persistent = persistent;
        this.tls = tls;
    }

    String label() {
        return label;
    }

    /** Whether this is a pcache distribution (settled by waiting until its cache is clean). */
    boolean pcache() {
        return this == PCACHE || this == PCACHE_BASELINE || this == PCACHE_TLS;
    }

    /** Whether a flush makes data durable on the disk (every peer but the memory plugin). */
    boolean persistent() {
        return persistent;
    }

    /** Whether clients must use TLS (the server refuses clear text). */
    boolean tls() {
        return tls;
    }

    /** The same server in clear text ({@code this} for a clear-text one). */
    Peer clearText() {
        return switch (this) {
            case PCACHE_TLS -> PCACHE;
            case NBDKIT_FILE_TLS -> NBDKIT_FILE;
            case QEMU_NBD_RAW_TLS -> QEMU_NBD_RAW;
            case NBDKIT_MEMORY_TLS -> NBDKIT_MEMORY;
            default -> this;
        };
    }

    /** The TLS server of {@code clear} ({@code clear} itself if it has none). */
    static Peer tlsOf(Peer clear) {
        for (Peer p : values()) {
            if (p.tls() && p.clearText() == clear) {
                return p;
            }
        }
        return clear;
    }
}
