package pcache.shell.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import org.apache.felix.service.command.CommandSession;
import org.junit.jupiter.api.Test;

class CommandSpecTest {

    @Test
    void helpIsRecognisedAnywhere() {
        assertTrue(CommandSpec.LIST.parse("-h").help());
        assertTrue(CommandSpec.LIST.parse("--help").help());
        assertFalse(CommandSpec.LIST.parse().help());
        assertFalse(CommandSpec.LIST.parse((String[]) null).help());
    }

    @Test
    void helpTextHasUsageAndWrappedDescription() {
        String help = CommandSpec.LIST.help();
        assertTrue(help.startsWith("usage: pcache:list [-h]\n  Lists the caches"), help);
        assertTrue(help.endsWith("  -h, --help      show this help"), help);
    }

    @Test
    void everyHelpFitsTheTerminalAndNamesItsOptions() {
        for (CommandSpec spec : CommandSpec.values()) {
            String help = spec.help();
            assertTrue(help.startsWith("usage: pcache:" + spec.function() + " [-h]"), help);
            for (String line : help.split("\n")) {
                assertTrue(line.length() <= 78, "line too long in " + spec + ": " + line);
            }
            for (CommandSpec.Option o : spec.options()) {
                assertTrue(help.contains("\n  " + o.name() + " "), spec + " help lacks " + o.name() + ": " + help);
                assertTrue(spec.synopsis().contains(o.name()), spec.synopsis());
            }
        }
    }

    /**
     * "--" ends the options, so a cache whose name begins with '-' (which the name rule allows)
     * can be given. Before, "-db" was an unknown option and "--drain" was taken as the flag.
     */
    @Test
    void doubleDashEndsTheOptions() {
        assertEquals(List.of("-db"), CommandSpec.REMOVE.parse("--", "-db").arguments());
        CommandSpec.Parsed p = CommandSpec.REMOVE.parse("--drain", "--", "--drain");
        assertEquals(List.of("--drain"), p.arguments());
        assertTrue(p.has("--drain"));
        assertFalse(CommandSpec.REMOVE.parse("--", "-h").help(), "-h after -- is a name");
        assertEquals(List.of("-h"), CommandSpec.REMOVE.parse("--", "-h").arguments());
    }

    @Test
    void optionsAreRecognisedAnywhereAndCountNoArgument() {
        CommandSpec.Parsed p = CommandSpec.STATUS.parse("pcache0", "--raw");
        assertEquals(List.of("pcache0"), p.arguments());
        assertTrue(p.has("--raw"));
        assertFalse(CommandSpec.STATUS.parse("pcache0").has("--raw"));
        assertEquals(List.of(), CommandSpec.STATUS.parse("--raw").arguments());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CommandSpec.STATUS.parse("--keys"));
        assertEquals("unknown option '--keys'; usage: pcache:status [-h] [--raw] [NAME]", e.getMessage());
    }

    @Test
    void negativeNumbersAreArguments() {
        assertEquals(List.of("c", "-5"), CommandSpec.GC_PERCENT.parse("c", "-5").arguments());
    }

    @Test
    void hyphenatedFunctionsHaveCamelCaseMethods() {
        assertEquals("gcPercent", CommandSpec.GC_PERCENT.methodName());
        assertEquals("swapBacking", CommandSpec.SWAP_BACKING.methodName());
        assertEquals("list", CommandSpec.LIST.methodName());
        assertTrue(CommandSpec.GC_PERCENT.viaFunctionService());
        assertFalse(CommandSpec.LIST.viaFunctionService());
    }

    @Test
    void unexpectedArgumentsSayWhatWasExpected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CommandSpec.LIST.parse("foo", "bar"));
        assertEquals("pcache:list takes no arguments, got 'foo bar'; usage: pcache:list [-h]", e.getMessage());
    }

    @Test
    void unknownOptionsSayWhatWasExpected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CommandSpec.VERSION.parse("--verbose"));
        assertEquals("unknown option '--verbose'; usage: pcache:version [-h]", e.getMessage());
    }

    /**
     * Each spec has its answer, a String method NAMEText taking ([CommandSession,] String...) on the
     * component; each spec Gogo calls by reflection (not through a Function service) has a public
     * void method of its name taking the same, which prints that answer; nothing else is public.
     */
    @Test
    void everySpecHasItsMethodOnTheComponent() {
        Set<String> methods = Arrays.stream(PcacheCommands.class.getDeclaredMethods())
                .filter(m -> Modifier.isPublic(m.getModifiers()))
                .peek(m -> {
                    assertEquals(void.class, m.getReturnType(), m + " prints its answer and returns nothing");
                    assertTrue(m.isVarArgs(), m + " should take String... args");
                    assertTrue(m.getParameterCount() == 1 || m.getParameterCount() == 2
                            && m.getParameterTypes()[0] == CommandSession.class, m + " takes ([CommandSession,] String...)");
                })
                .map(Method::getName).collect(Collectors.toSet());
        Set<String> specs = Arrays.stream(CommandSpec.values()).filter(s -> !s.viaFunctionService())
                .map(CommandSpec::methodName).collect(Collectors.toSet());
        assertEquals(specs, methods);
        for (CommandSpec spec : CommandSpec.values()) {
            Method answer = Arrays.stream(PcacheCommands.class.getDeclaredMethods())
                    .filter(m -> m.getName().equals(spec.methodName() + "Text")).findFirst().orElse(null);
            assertTrue(answer != null && answer.getReturnType() == String.class && answer.isVarArgs(),
                    spec + ": no String " + spec.methodName() + "Text(..., String...)");
        }
    }

    @Test
    void functionNamesAreUnique() {
        List<String> names = Arrays.stream(CommandSpec.values()).map(CommandSpec::function).toList();
        assertEquals(names.size(), Set.copyOf(names).size());
    }
}
