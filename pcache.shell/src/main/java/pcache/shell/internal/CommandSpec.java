package pcache.shell.internal;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Every {@code pcache:} command: its name, synopsis, options and help. The single list the
 * shell's usage texts come from; adding a command means adding a constant here and a method of
 * the same name (camel case: {@code gc-percent} is {@code gcPercent}) in {@link PcacheCommands}.
 * Plain names are Gogo functions of the component ({@code @GogoCommand}); Gogo cannot map a
 * hyphenated name to a method, so those are registered as Gogo {@code Function} services (unit
 * tests check that all of this agrees).
 */
public enum CommandSpec {

    VERSION("version", "", 0, 0, List.of(),
            "Shows the versions of the pcache shell bundle, of Java and of the OSGi framework."),
    LIST("list", "", 0, 0, List.of(),
            "Lists the caches (name, size, mode, clean or dirty, backing device), the configured caches that"
                    + " are not open (failed, with why, or waiting for their backing device), the backing devices "
                    + "(name, driver, state, size, identity), the configured backing devices that did not open (with"
                    + " why: a file locked by another pcache, say) and the parts registered to build caches from: pmem"
                    + " mappings, write-back policies, CRC providers, key indices and segment allocators."),
    STATUS("status", "[--raw] [NAME]", 0, 1,
            List.of(new Option("--raw", "print only dm-pcache's nine status fields (as dmsetup status does)")),
            "Shows the status of one cache, or of every cache: dm-pcache's status fields (sb_flags, seg_total,"
                    + " cache_segs, segs_used, gc_percent, cache_flags, key_head, dirty_tail, key_tail), the mode,"
                    + " data_crc, the backing device and its state, the cache device, the NBD export and the main"
                    + " statistics; without NAME, also why each configured cache that is not open is not. With"
                    + " --raw and no NAME each line starts with the cache's name (open caches only)."),
    STATS("stats", "[NAME]", 0, 1, List.of(),
            "Shows the statistics of one cache, or of every cache, since it was opened: reads with hit"
                    + " ratios, writes, flushes, trims, deferred requests, dirty data, write-back, GC and data CRC"
                    + " counters."),
    CREATE("create", "NAME cache_dev=PATH backing=file:PATH|nbd://...|nbd+unix://..."
            + " [cache_dev_size=SIZE] [backing_size=SIZE] [mode=writeback|writethrough|passthrough]"
            + " [data_crc=true|false] [gc_percent=N] [pmem=NAME] [policy=NAME] [crc=NAME] [key_index=NAME]"
            + " [allocator=NAME] [identity=LABEL]", 3, 14, List.of(),
            "Creates a cache through ConfigAdmin, with the configurations the launcher makes for a cache in its"
                    + " configuration file: a backing device NAME.backing and a cache target NAME, and waits until"
                    + " it is open (or fails at once with why, when its open failed for a reason other than a"
                    + " backing device not there yet). The backing device is file:PATH, nbd[s]://HOST[:PORT]/EXPORT or"
                    + " nbd[s]+unix:///EXPORT?socket=PATH (nbds: TLS, with tls-certificates=DIR or tls-psk-file=FILE"
                    + " in the query). cache_dev_size (at least 512M) creates a missing cache device, backing_size a"
                    + " missing backing file; without them the file must exist. SIZE is a number of bytes or has"
                    + " a unit K, M, G or T (powers of 1024). pmem (default mapped), policy (ordered), crc"
                    + " (crc32c-pcache), key_index (striped) and allocator (fifo) name parts among those registered"
                    + " (pcache:list shows them). identity labels the backing device's data (give the"
                    + " same label to every path that reaches the same data, so the cache accepts each). Relative"
                    + " paths are resolved against the shell's current directory. The cache lasts until"
                    + " pcache:remove or the end of the process: the launcher starts from its configuration file"
                    + " every time."),
    REMOVE("remove", "[--drain | --keep-dirty] NAME", 1, 1,
            List.of(new Option("--drain", "write back every dirty byte first, with a progress bar"),
                    new Option("--keep-dirty", "a cache that is not open only: remove it although its cache device"
                            + " may hold data not yet written back (damaged, or dirty); the device file keeps it")),
            "Removes a cache created through ConfigAdmin (its target and backing configurations) without ever"
                    + " stranding dirty data: a cache with data not yet written back is refused unless --drain"
                    + " is given. Before the configurations go, the cache is switched to passthrough, which"
                    + " writes back whatever arrived meanwhile, so nothing is left behind. A cache that is not"
                    + " open is removed only when its cache device holds no dirty data (checked offline), or"
                    + " with --keep-dirty, which leaves the device as it is: a cache configured on it again, with"
                    + " the same backing device, replays dirty data and writes it back (a damaged device must be"
                    + " mended first: pcache:fsck shows its damage). The cache device file is left in place."),
    GC_PERCENT("gc-percent", "NAME N", 2, 2, List.of(),
            "Sets the GC threshold of a cache (0 to 90): GC reclaims segments while more than N percent are in"
                    + " use. Persisted in the cache device and in the cache's configuration."),
    FLUSH("flush", "NAME", 1, 1, List.of(),
            "Persists every open key set of a cache: every write acknowledged before is then durable in the"
                    + " cache device (as a client's NBD flush does)."),
    DRAIN("drain", "[--passthrough] NAME", 1, 1,
            List.of(new Option("--passthrough", "then switch the cache to passthrough, ready for removal")),
            "Writes back every byte that is dirty when the command starts, showing a progress bar, and"
                    + " returns when the backing device holds it and has been flushed. Clients go on meanwhile."),
    MODE("mode", "NAME writeback|writethrough|passthrough", 2, 2, List.of(),
            "Switches the mode of a cache. Entering passthrough first writes back everything and empties the"
                    + " cache (it waits for that); requests then go straight to the backing device. Persisted in"
                    + " the cache's configuration."),
    SWAP_BACKING("swap-backing", "NAME file:PATH|nbd[s]://...|nbd[s]+unix://... [identity=LABEL]", 2, 3, List.of(),
            "Re-points a running cache to another backing device holding the same data (a copy, or the same"
                    + " disk reached another way), given as file:PATH, nbd[s]://HOST[:PORT]/EXPORT or"
                    + " nbd[s]+unix:///EXPORT?socket=PATH: creates the new backing configuration, checks the device"
                    + " (size and identity), changes the cache's backing.target through ConfigAdmin, waits until"
                    + " the cache uses it and deletes the old backing configuration. Clients go on; requests that"
                    + " need the backing device wait. The identity label of the old configuration is kept unless"
                    + " identity=LABEL is given; a device with another identity is refused before anything"
                    + " changes."),
    EXPORT("export", "NAME", 1, 1, List.of(),
            "Exports a cache over NBD again after pcache:unexport."),
    UNEXPORT("unexport", "NAME", 1, 1, List.of(),
            "Withdraws a cache's NBD export: new requests are refused, requests in flight finish, the cache is"
                    + " flushed and its clients are disconnected. It stays withdrawn until pcache:export NAME, even"
                    + " if the cache is re-configured meanwhile."),
    INSPECT("inspect", "[--keys] FILE", 1, 1,
            List.of(new Option("--keys", "also print every key of every kset")),
            "Prints a cache device image read offline (never written, no lock taken; works on images Linux"
                    + " dm-pcache wrote): superblock, both slots of cache_info, key_tail and dirty_tail, pcache's"
                    + " extension record, the segment chain with generations, and every kset of the key log"
                    + " from key_tail to its end with CRC verdicts and why the log ends."),
    FSCK("fsck", "FILE", 1, 1, List.of(),
            "Checks a cache device image offline: every CRC, the segment chain, every key, and with data_crc"
                    + " the data of every current extent; reports errors (the cache is unusable or data is lost)"
                    + " apart from warnings (a damaged spare slot, a kset torn at the end of the log, stale keys),"
                    + " and the dirty bytes and ranges. Fails (exit status 1 from ./pcache -c) when it finds"
                    + " errors.");

    /** The Gogo scope of every pcache command. */
    public static final String SCOPE = "pcache";

    private static final int WIDTH = 78;

    /**
     * An option flag of a command.
     *
     * @param name e.g. {@code --raw}
     * @param help what it does
     */
    public record Option(String name, String help) {
    }

    private final String function;
    private final String parameters;
    private final int minArguments;
    private final int maxArguments;
    private final List<Option> options;
    private final String description;

    CommandSpec(String function, String parameters, int minArguments, int maxArguments, List<Option> options,
            String description) {
        this.function = function;
        this.parameters = parameters;
        this.minArguments = minArguments;
        this.maxArguments = maxArguments;
        this.options = options;
        this.description = description;
    }

    /** The Gogo function name, e.g. {@code list} or {@code gc-percent}. */
    public String function() {
        return function;
    }

    /** The Java method implementing it: the function in camel case ({@code gc-percent}: {@code gcPercent}). */
    public String methodName() {
        StringBuilder out = new StringBuilder();
        boolean upper = false;
        for (char c : function.toCharArray()) {
            if (c == '-') {
                upper = true;
            } else {
                out.append(upper ? Character.toUpperCase(c) : c);
                upper = false;
            }
        }
        return out.toString();
    }

    /**
     * Whether Gogo reaches it through a {@code Function} service rather than a method of the
     * component: Gogo looks methods up by the function's name, which cannot hold a hyphen.
     */
    public boolean viaFunctionService() {
        return function.indexOf('-') >= 0;
    }

    /** The options it accepts besides {@code -h}. */
    public List<Option> options() {
        return options;
    }

    /** {@code pcache:list [-h]} plus the parameters. */
    public String synopsis() {
        return SCOPE + ":" + function + " [-h]" + (parameters.isEmpty() ? "" : " " + parameters);
    }

    /** The text of {@code -h}/{@code --help}. */
    public String help() {
        StringBuilder out = new StringBuilder();
        out.append(wrap("usage: " + synopsis(), "", "         ", WIDTH));
        out.append(wrap(description, "  ", "  ", WIDTH));
        for (Option o : options) {
            out.append(wrap(String.format("%-15s %s", o.name(), o.help()), "  ", "  " + " ".repeat(16), WIDTH));
        }
        return out.append("  -h, --help      show this help").toString();
    }

    private static String wrap(String text, String firstIndent, String indent, int width) {
        StringBuilder out = new StringBuilder();
        StringBuilder line = new StringBuilder(firstIndent);
        int start = line.length();
        for (String word : text.split(" ")) {
            if (line.length() > start && line.length() + 1 + word.length() > width) {
                out.append(line).append('\n');
                line = new StringBuilder(indent);
                start = line.length();
            }
            line.append(line.length() > start ? " " : "").append(word);
        }
        return out.append(line).append('\n').toString();
    }

    /**
     * Checks {@code args}: either a help request, or this command's options (anywhere on the line
     * before {@code --}, which ends them) and as many positional arguments as it takes.
     *
     * @return the positional arguments and options, or empty-handed {@link Parsed#help()} when help
     *         was asked for
     * @throws IllegalArgumentException saying what was expected
     */
    public Parsed parse(String... args) {
        List<String> list = args == null ? List.of() : List.of(args);
        // "--" ends the options: what follows is positional, so a cache named "-db" can be given
        int end = list.indexOf("--");
        List<String> optional = end < 0 ? list : list.subList(0, end);
        if (optional.contains("-h") || optional.contains("--help")) {
            return new Parsed(true, List.of(), Set.of());
        }
        List<String> positional = new ArrayList<>();
        Set<String> given = new LinkedHashSet<>();
        for (String a : optional) {
            if (a.startsWith("-") && a.length() > 1 && !a.matches("-\\d.*")) {
                if (options.stream().noneMatch(o -> o.name().equals(a))) {
                    throw new IllegalArgumentException("unknown option '" + a + "'; usage: " + synopsis());
                }
                given.add(a);
            } else {
                positional.add(a);
            }
        }
        if (end >= 0) {
            positional.addAll(list.subList(end + 1, list.size()));
        }
        if (positional.size() < minArguments || positional.size() > maxArguments) {
            String expected = maxArguments == 0 ? "no arguments"
                    : minArguments == maxArguments ? minArguments + " argument(s)"
                    : minArguments + " to " + maxArguments + " arguments";
            throw new IllegalArgumentException(SCOPE + ":" + function + " takes " + expected + ", got "
                    + (positional.isEmpty() ? "none" : "'" + String.join(" ", positional) + "'") + "; usage: "
                    + synopsis());
        }
        return new Parsed(false, List.copyOf(positional), Set.copyOf(given));
    }

    /**
     * A checked command line.
     *
     * @param help whether help was asked for
     * @param arguments the positional arguments
     * @param options the options given
     */
    public record Parsed(boolean help, List<String> arguments, Set<String> options) {

        /** Whether option {@code name} was given. */
        public boolean has(String name) {
            return options.contains(name);
        }

        /** Positional argument {@code i}, or null when there are fewer. */
        public String argument(int i) {
            return i < arguments.size() ? arguments.get(i) : null;
        }
    }
}
