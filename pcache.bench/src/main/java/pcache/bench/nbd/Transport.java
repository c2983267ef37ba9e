package pcache.bench.nbd;

/** How clients reach the server: a unix socket, or TCP on 127.0.0.1. */
enum Transport {
    UNIX("unix socket"),
    TCP("TCP 127.0.0.1");

    private final String label;

    Transport(String label) {
        this.label = label;
    }

    String label() {
        return label;
    }
}
