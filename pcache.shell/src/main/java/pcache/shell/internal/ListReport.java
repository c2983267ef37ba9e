package pcache.shell.internal;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import pcache.api.BackingState;
import pcache.api.CacheDevice;
import pcache.api.CacheOpenFailure;
import pcache.api.CacheStatus;
import pcache.api.spi.BackingDevice;
import pcache.api.spi.CrcProvider;
import pcache.api.spi.PmemProvider;
import pcache.io.scr.BackingFailures;

/**
 * The text of {@code pcache:list}. Works on the service objects, so it is tested with plain
 * fakes; a device that throws is shown with its error instead of breaking the listing.
 */
final class ListReport {

    private ListReport() {
    }

    /**
     * A backing device with its service properties (its name and driver are service properties).
     *
     * @param properties the service properties
     * @param device the service
     */
    record BackingEntry(Map<String, Object> properties, BackingDevice device) {
        String name() {
            return String.valueOf(properties.getOrDefault(BackingDevice.NAME, "?"));
        }

        String driver() {
            return String.valueOf(properties.getOrDefault(BackingDevice.DRIVER, "?"));
        }
    }

    /**
     * The listing of the open {@code caches}, the configured caches that are not open
     * ({@code failures}: why), the {@code backings} and the installed parts.
     */
    static String format(Collection<? extends CacheDevice> caches, Collection<? extends CacheOpenFailure> failures,
            Collection<BackingEntry> backings, InstalledParts parts) {
        return format(caches, failures, backings, List.of(), parts);
    }

    /**
     * {@link #format(Collection, Collection, Collection, InstalledParts)}, with the configured
     * backing devices that did not open ({@code backingFailures}: why) after the open ones.
     */
    static String format(Collection<? extends CacheDevice> caches, Collection<? extends CacheOpenFailure> failures,
            Collection<BackingEntry> backings, List<BackingFailures.Failure> backingFailures, InstalledParts parts) {
        StringBuilder out = new StringBuilder();
        List<CacheDevice> sortedCaches = new ArrayList<>(caches);
        sortedCaches.sort(Comparator.comparing(ListReport::cacheName));
        if (sortedCaches.isEmpty()) {
            out.append(failures.isEmpty() ? "caches: none\n" : "caches open: none\n");
        } else {
            out.append("caches (").append(sortedCaches.size()).append("):\n");
            TextTable table = new TextTable("NAME", "SIZE", "MODE", "STATE", "BACKING");
            sortedCaches.forEach(c -> table.row(cacheRow(c)));
            table.appendTo(out);
        }
        if (!failures.isEmpty()) {
            List<String[]> rows = new ArrayList<>();
            for (CacheOpenFailure f : failures) {
                rows.add(new String[] {safe(f::name), safe(() -> f.waitsForBacking() ? "waits for backing" : "failed"),
                        safe(f::reason)});
            }
            rows.sort(Comparator.comparing(r -> r[0]));
            out.append("configured caches not open (").append(rows.size()).append("):\n");
            TextTable table = new TextTable("NAME", "STATE", "WHY");
            rows.forEach(table::row);
            table.appendTo(out);
        }
        List<BackingEntry> sortedBackings = new ArrayList<>(backings);
        sortedBackings.sort(Comparator.comparing(BackingEntry::name));
        if (sortedBackings.isEmpty()) {
            out.append("backing devices: none\n");
        } else {
            out.append("backing devices (").append(sortedBackings.size()).append("):\n");
            TextTable table = new TextTable("NAME", "DRIVER", "STATE", "SIZE", "IDENTITY");
            sortedBackings.forEach(b -> table.row(backingRow(b)));
            table.appendTo(out);
        }
        if (!backingFailures.isEmpty()) {
            out.append("configured backing devices not open (").append(backingFailures.size()).append("):\n");
            TextTable table = new TextTable("NAME", "WHY");
            backingFailures.forEach(f -> table.row(new String[] {f.name(), f.reason()}));
            table.appendTo(out);
        }
        out.append("pmem providers: ").append(names(parts.pmem())).append('\n');
        out.append("write-back policies: ").append(names(parts.policies())).append('\n');
        out.append("crc providers: ").append(names(parts.crcs())).append('\n');
        out.append("key indices: ").append(names(parts.keyIndexes())).append('\n');
        out.append("segment allocators: ").append(names(parts.allocators())).append('\n');
        return out.toString();
    }

    private static String[] cacheRow(CacheDevice cache) {
        String name = cacheName(cache);
        String size = safe(() -> Sizes.human(cache.sizeBytes()));
        String mode = safe(() -> cache.mode().configName());
        try {
            CacheStatus status = cache.status();
            String backing = status.backing();
            if (status.backingState() != null && status.backingState() != BackingState.ONLINE) {
                backing += " (" + status.backingState().name().toLowerCase(Locale.ROOT) + ")";
            }
            return new String[] {name, size, mode, status.clean() ? "clean" : "dirty", backing};
        } catch (RuntimeException e) {
            return new String[] {name, size, mode, "unknown", "status failed: " + message(e)};
        }
    }

    private static String[] backingRow(BackingEntry entry) {
        BackingDevice d = entry.device();
        return new String[] {entry.name(), entry.driver(),
                safe(() -> d.state().name().toLowerCase(Locale.ROOT)),
                safe(() -> Sizes.human(d.sizeBytes())),
                safe(() -> d.identity().id())};
    }

    private static String cacheName(CacheDevice cache) {
        return safe(cache::name);
    }

    private static String names(List<String> names) {
        return names.isEmpty() ? "none" : String.join(", ", names.stream().sorted().toList());
    }

    /** A value that a misbehaving service cannot turn into a failed listing. */
    private static String safe(java.util.function.Supplier<String> value) {
        try {
            return String.valueOf(value.get());
        } catch (RuntimeException e) {
            return "error: " + message(e);
        }
    }

    private static String message(RuntimeException e) {
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }
}
