package pcache.webconsole.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

/** The pcache page's JSON and HTML. */
class PcachePluginTest {

    private static CacheRow row(String name, long readRequests, long readHits) {
        return new CacheRow(name, "writeback", false, "file:/srv/\"b\"<x>.img", "online", 3 << 20, 12.34, 5, 31,
                readRequests, readHits, 4096, 8192, 1 << 20, 2, 0);
    }

    @Test
    void jsonHasEveryColumnEscaped() {
        String json = PcachePlugin.json(1234, List.of(row("a", 4, 3)), List.of(), List.of());
        assertEquals("{\"time\":1234,\"caches\":[{\"name\":\"a\",\"mode\":\"writeback\",\"state\":\"dirty\","
                + "\"backing\":\"file:/srv/\\\"b\\\"\\u003cx\\u003e.img\",\"backingState\":\"online\","
                + "\"dirtyBytes\":3145728,\"dirtyPercent\":12.3,\"segmentsUsed\":5,\"segmentsTotal\":31,"
                + "\"hitRatio\":\"75.0 %\",\"readRequests\":4,\"bytesRead\":4096,\"bytesWritten\":8192,"
                + "\"writebackBytes\":1048576,\"writebackKsets\":2,\"writebackErrors\":0}],\"notOpen\":[],\"refused\":[]}",
                json);
        assertEquals("{\"time\":1,\"caches\":[],\"notOpen\":[{\"name\":\"b\",\"state\":\"failed\",\"reason\":"
                + "\"magic \\u003c0\\u003e\"},{\"name\":\"c\",\"state\":\"waits for backing\",\"reason\":\"it waits\"}],"
                + "\"refused\":[{\"time\":7,\"configuration\":\"pcache.target 'x'\","
                + "\"message\":\"gc_percent=95: \\u003c\"}]}", PcachePlugin.json(1, List.of(),
                List.of(new PcachePlugin.NotOpen("b", false, "magic <0>"), new PcachePlugin.NotOpen("c", true, "it waits")),
                List.of(new PcacheConfigurationHandler.Refusal(7, "pcache.target 'x'", "gc_percent=95: <"))));
    }

    @Test
    void hitRatioAsPcacheStatsPrintsIt() {
        assertEquals("-", row("a", 0, 0).hitRatio());
        assertEquals("33.3 %", row("a", 3, 1).hitRatio());
    }

    @Test
    void thePageLoadsItsOwnScriptOnly() {
        String page = PcachePlugin.page("/system/console/pcache");
        assertTrue(page.contains("<script src=\"/system/console/pcache/pcache.js\"></script>"), page);
        assertTrue(page.contains("data-root=\"/system/console/pcache\""), page);
        assertTrue(page.contains("<canvas id=\"pcache-chart\""), page);
        assertTrue(!page.contains("http://") && !page.contains("https://"), "nothing from elsewhere");
        assertTrue(PcachePlugin.page("/a\"b").contains("data-root=\"/a&quot;b\""));
    }

    /**
     * The link to the configuration manager is absolute: the page is served at {@code /pcache/}
     * too, where the relative {@code configMgr} it had led to {@code /pcache/configMgr}, a 404.
     */
    @Test
    void theConfigurationLinkLeadsToTheConsolesConfigurationManager() {
        assertTrue(PcachePlugin.page("/system/console/pcache").contains("<a href=\"/system/console/configMgr\">"));
    }
}
