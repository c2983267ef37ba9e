package pcache.shell.internal;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import pcache.api.config.CacheAttribute;
import pcache.api.config.CacheDefinition;
import pcache.api.config.CachePart;
import pcache.api.config.Problem;

/**
 * The arguments of {@code pcache:create NAME key=value...}, turned into a {@link CacheDefinition}
 * by the rules the launcher applies to its configuration file (pcache.api.config): only the
 * spelling of the keys is the command's own ({@link CacheAttribute#createKey()}). The parts are
 * chosen by name among the services registered now ({@link InstalledParts}).
 */
final class CacheCreation {

    private CacheCreation() {
    }

    /**
     * Parses {@code name} and the {@code key=value} arguments; relative paths are resolved against
     * {@code cwd}; the parts named must be among those {@code installed}.
     *
     * @throws IllegalArgumentException listing every problem, each with what is expected
     */
    static CacheDefinition parse(String name, List<String> keyValues, Path cwd, InstalledParts installed) {
        List<String> syntax = new ArrayList<>();
        Map<CacheAttribute, String> values = new EnumMap<>(CacheAttribute.class);
        for (String kv : keyValues) {
            int eq = kv.indexOf('=');
            Optional<CacheAttribute> attribute = eq < 0 ? Optional.empty()
                    : CacheAttribute.byCreateKey(kv.substring(0, eq));
            if (attribute.isEmpty()) {
                syntax.add("'" + kv + "': expected KEY=VALUE with KEY one of "
                        + String.join(", ", CacheAttribute.createKeys()));
            } else if (values.put(attribute.get(), kv.substring(eq + 1)) != null) {
                syntax.add(kv.substring(0, eq) + " is given twice");
            }
        }
        CacheDefinition.Parsed parsed = CacheDefinition.parse(name, values, cwd);
        List<String> problems = new ArrayList<>();
        parsed.problems().stream().filter(p -> p.attribute() == null).forEach(p -> problems.add(describe(p)));
        problems.addAll(syntax);
        parsed.problems().stream().filter(p -> p.attribute() != null).forEach(p -> problems.add(describe(p)));
        parsed.definition().ifPresent(d -> {
            for (CachePart part : CachePart.values()) {
                Problem p = part.notRegistered(d.part(part), installed.of(part), "is its bundle started?");
                if (p != null) {
                    problems.add(describe(p));
                }
            }
        });
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("cannot create cache '" + name + "': " + String.join("; ", problems));
        }
        return parsed.definition().orElseThrow();
    }

    private static String describe(Problem p) {
        if (p.attribute() == null) {
            return "cache name '" + p.value() + "': " + p.text();
        }
        String key = p.attribute().createKey().orElse(p.attribute().key());
        return p.missing() ? key + "=... is missing: " + p.text() : p.render(key);
    }
}
