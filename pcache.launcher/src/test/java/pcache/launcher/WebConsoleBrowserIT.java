package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The Web Console in a real browser: Debian's headless Chromium, driven through its chromedriver
 * by Selenium, against the distribution on a loopback port. It logs in (HTTP Basic, the user and
 * password of the generated credentials file); creates a second cache through the configuration
 * manager's forms (a backing device, then the cache), sees a too small cache device refused with
 * {@code pcache:create}'s message on the pcache page and nothing configured, then the corrected
 * form saved, the cache listed and its counters move after qemu-io writes and reads; opens the
 * pcache page and sees the first cache listed, changes its gc_percent through the configuration manager's metatype form and sees
 * {@code pcache:status} report it, writes to the export with qemu-io and sees the page's counters
 * move; it leaves a screenshot in {@code target/web-console.png}. Chromium, chromedriver and
 * qemu-io are required (with {@code CI=true} a missing one fails the test). Every wait is bounded.
 */
@Timeout(180)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class WebConsoleBrowserIT {

    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final String CACHE = "web";
    /** The name field of the configuration manager's open form (strings are text areas there). */
    private static final By NAME_FIELD = By.cssSelector("#editor [name='name']");

    @TempDir
    static Path dir;

    private static PcacheProcess pcache;
    private static ExternalTools tools;
    private static WebDriver browser;
    private static int httpPort;

    @BeforeAll
    static void start() throws Exception {
        ExternalTools.assumeInstalled("chromium", "chromedriver", "qemu-io");
        pcache = PcacheProcess.startOnFreePort(port -> PcacheProcess.configure(dir, Optional.empty(), """
                cache.web.cache_dev = web.cache
                cache.web.cache_dev_size = 512M
                cache.web.backing_dev = file:web.backing
                cache.web.backing_dev_size = 64M
                http.listen = 127.0.0.1:%d
                """.formatted(port)), CACHE);
        httpPort = pcache.port();
        tools = new ExternalTools(dir);
        awaitConsole();

        ChromeOptions options = new ChromeOptions();
        options.setBinary(ExternalTools.which("chromium"));
        options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1200,760", "--no-proxy-server", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--user-data-dir=" + dir.resolve("chromium"));
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(Path.of(ExternalTools.which("chromedriver")).toFile())
                .withLogFile(dir.resolve("chromedriver.log").toFile()).build();
        browser = new ChromeDriver(service, options);
        browser.manage().timeouts().pageLoadTimeout(WAIT).scriptTimeout(WAIT);
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            if (browser != null) {
                browser.quit();
            }
        } finally {
            if (tools != null) {
                tools.close();
            }
            if (pcache != null && pcache.isAlive()) {
                assertEquals(0, pcache.stop(), "clean stop on SIGTERM:\n" + pcache.log());
            }
        }
    }

    /** Waits (bounded) until the console answers (401: pcache's login is registered). */
    private static void awaitConsole() throws Exception {
        HttpClient http = HttpClient.newBuilder().connectTimeout(WAIT).build();
        long deadline = System.nanoTime() + WAIT.toNanos() * 2;
        int last = 0;
        while (last != 401) {
            try {
                last = http.send(HttpRequest.newBuilder(URI.create(base() + "/system/console/pcache")).timeout(WAIT)
                        .build(), HttpResponse.BodyHandlers.discarding()).statusCode();
            } catch (IOException notYet) {
                last = -1;
            }
            if (System.nanoTime() > deadline) {
                fail("the Web Console does not answer 401 (last: " + last + ")\n" + pcache.log());
            }
            if (last != 401) {
                Thread.sleep(200);
            }
        }
    }

    private static String base() {
        return "http://127.0.0.1:" + httpPort;
    }

    /** The console URL with the generated user and password (HTTP Basic, as a browser sends them). */
    private static String withLogin(String path) throws IOException {
        String userPass = Files.readAllLines(pcache.dataDir().resolve("console-credentials")).stream()
                .filter(l -> !l.startsWith("#")).findFirst().orElseThrow();
        return "http://" + userPass + "@127.0.0.1:" + httpPort + path;
    }

    private static String rowText() {
        return textOf(By.cssSelector("#pcache-caches tr[data-cache='" + CACHE + "']"));
    }

    /** The text of the cache's row's {@code n}th cell (1: name, 6: dirty, 8: hit ratio, 9: written back). */
    private static String cell(int n) {
        return cell(CACHE, n);
    }

    private static String cell(String cache, int n) {
        return textOf(By.cssSelector("#pcache-caches tr[data-cache='" + cache + "'] td:nth-child(" + n + ")"));
    }

    /**
     * The text of the element {@code by} finds. The pcache page rebuilds its table on every
     * refresh, so an element found just before one is gone when its text is asked for
     * (StaleElementReferenceException, seen once in a fresh clone's run): then it is found again,
     * a few times at most.
     */
    private static String textOf(By by) {
        for (int attempt = 1; ; attempt++) {
            try {
                return browser.findElement(by).getText();
            } catch (StaleElementReferenceException e) {
                if (attempt == 10) {
                    throw e;
                }
            }
        }
    }

    /**
     * Opens the configuration manager's form for a new configuration of the factory its metatype
     * calls {@code factoryName}, with the factory row's "+" (create) button.
     */
    private static void openNewForm(WebDriverWait wait, String factoryName) {
        browser.get(base() + "/system/console/configMgr");
        wait.until(ExpectedConditions.elementToBeClickable(By.cssSelector("tr.fpid[fpid='" + factoryName
                + "'] li:has(.ui-icon-plusthick)"))).click();
        wait.until(ExpectedConditions.visibilityOfElementLocated(NAME_FIELD));
    }

    private static void type(String field, String value) {
        WebElement input = browser.findElement(By.cssSelector("#editor [name='" + field + "']"));
        input.clear();
        input.sendKeys(value);
    }

    /** Fills a new cache's form (cache web2 on backing device web2.backing) and saves it. */
    private static void fillCacheForm(WebDriverWait wait, long cacheDevSizeBytes) {
        openNewForm(wait, "pcache cache");
        type("name", "web2");
        type("cache_dev", dir.resolve("web2.cache").toString());
        type("cache_dev_size_bytes", Long.toString(cacheDevSizeBytes));
        type("backing.target", "(pcache.backing.name=web2.backing)");
        save();
    }

    private static void save() {
        browser.findElement(By.xpath("//div[contains(@class,'ui-dialog-buttonpane')]//button[normalize-space()='Save']"))
                .click();
    }

    private static void screenshot() throws IOException {
        Path png = ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE).toPath();
        Files.copy(png, Path.of("target", "web-console.png"), StandardCopyOption.REPLACE_EXISTING);
    }

    @Test
    @Order(1)
    void createsACacheThroughTheFormsWhichRefuseABadValueWithTheShellsMessage() throws Exception {
        WebDriverWait wait = new WebDriverWait(browser, WAIT, Duration.ofMillis(200));
        browser.get(withLogin("/system/console/pcache"));
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#pcache-caches tr[data-cache]")));

        // a backing device first: the form of a new "pcache file backing device"
        openNewForm(wait, "pcache file backing device");
        type("name", "web2.backing");
        type("path", dir.resolve("web2.backing").toString());
        type("size_bytes", Long.toString(64L << 20));
        WebElement create = browser.findElement(By.cssSelector("#editor input[name='create'][type='checkbox']"));
        if (!create.isSelected()) {
            create.click();
        }
        save();
        // saved: the console goes back to its list
        wait.until(ExpectedConditions.invisibilityOfElementLocated(NAME_FIELD));

        // then the cache, first with a cache device too small for dm-pcache's format
        fillCacheForm(wait, 256L << 20);
        // refused: the pcache page says why (the console's form does not show the answer's text;
        // its dialog stays, behind the console's modal overlay), and no cache was configured
        browser.get(base() + "/system/console/pcache");
        wait.until(ExpectedConditions.visibilityOfElementLocated(By.cssSelector("#pcache-refused li")));
        String refused = textOf(By.cssSelector("#pcache-refused li"));
        assertTrue(refused.endsWith("pcache refused this change of pcache.target 'web2': cache_dev_size_bytes=268435456:"
                + " expected 0 (the device must exist) or at least 536870912 (512 MiB, the smallest cache device"
                + " dm-pcache's format allows)"), refused);
        assertEquals(1, browser.findElements(By.cssSelector("#pcache-refused li")).size());
        PcacheProcess.CtlResult list = pcache.ctl("pcache:list");
        assertFalse(list.out().lines().anyMatch(l -> l.trim().startsWith("web2 ")), list.out());
        assertFalse(Files.exists(dir.resolve("web2.cache")));

        // the form again, with a cache device of 512 MiB: saved, and the cache opens
        fillCacheForm(wait, 512L << 20);
        wait.until(ExpectedConditions.invisibilityOfElementLocated(NAME_FIELD));
        browser.get(base() + "/system/console/pcache");
        wait.until(d -> !d.findElements(By.cssSelector("#pcache-caches tr[data-cache='web2']")).isEmpty());
        wait.until(d -> cell("web2", 3).equals("clean"));
        assertEquals("file:" + dir.resolve("web2.backing"), cell("web2", 4));

        // the new cache serves its export: the counters of its row move
        tools.qemuIo(WAIT, pcache.unixUri("web2"), true, List.of("write -P 0x3c 0 4M", "read -P 0x3c 0 1M", "flush"));
        wait.until(d -> !cell("web2", 8).equals("-") && (!cell("web2", 6).startsWith("0 B ")
                || !cell("web2", 9).startsWith("0 B ")));
        PcacheProcess.CtlResult status = pcache.ctl("pcache:status web2");
        assertTrue(status.out().contains("hit ratio " + cell("web2", 8)), status.out());
    }

    @Test
    @Order(2)
    void logsInSeesTheCacheEditsItAndSeesTheCountersMove() throws Exception {
        WebDriverWait wait = new WebDriverWait(browser, WAIT, Duration.ofMillis(200));
        browser.get(withLogin("/system/console/pcache"));
        wait.until(ExpectedConditions.presenceOfElementLocated(
                By.cssSelector("#pcache-caches tr[data-cache='" + CACHE + "']")));
        String before = rowText();
        assertTrue(before.startsWith("web writeback clean file:" + pcache.dataDir().resolve("web.backing") + " online"),
                before);

        // the configuration manager's form of the cache: change gc_percent and save
        browser.get(base() + "/system/console/configMgr/pcache.target~" + CACHE);
        WebElement gc = wait.until(ExpectedConditions.visibilityOfElementLocated(By.name("gc_percent")));
        gc.clear();
        gc.sendKeys("55");
        browser.findElement(By.xpath("//div[contains(@class,'ui-dialog-buttonpane')]//button[normalize-space()='Save']"))
                .click();
        awaitStatus("gc_percent  55");

        // write through the export; the page's counters follow
        browser.get(base() + "/system/console/pcache");
        wait.until(d -> !d.findElements(By.cssSelector("#pcache-caches tr[data-cache='" + CACHE + "']")).isEmpty());
        tools.qemuIo(WAIT, pcache.unixUri(CACHE), true, List.of("write -P 0x5a 0 8M", "read -P 0x5a 0 4M", "flush"));
        // the hit ratio appears with the first read; the write shows as dirty data or as written back
        wait.until(d -> !cell(8).equals("-") && (!cell(6).startsWith("0 B ") || !cell(9).startsWith("0 B ")));
        wait.until(d -> textOf(By.id("pcache-legend")).startsWith("all caches: "));
        // a few points of the chart after the write (the page polls every 2 s), for the screenshot
        wait.until(d -> {
            String points = d.findElement(By.id("pcache")).getDomAttribute("data-points");
            return points != null && Integer.parseInt(points) >= 4;
        });
        screenshot();
        PcacheProcess.CtlResult status = pcache.ctl("pcache:status " + CACHE);
        assertTrue(status.out().contains("hit ratio " + cell(8)), "the page's hit ratio " + cell(8) + " in\n"
                + status.out());
    }

    /**
     * A cache that cannot be opened is listed on the page with why. Before, the page showed open
     * caches only, and a configured cache that had failed was nowhere on it.
     */
    @Test
    @Order(3)
    void aCacheThatCannotBeOpenedIsListedWithWhy() throws Exception {
        Path device = ForeignDevices.createCacheOn(pcache, "broken");
        WebDriverWait wait = new WebDriverWait(browser, WAIT, Duration.ofMillis(200));
        browser.get(withLogin("/system/console/pcache"));
        wait.until(ExpectedConditions.visibilityOfElementLocated(By.cssSelector("#pcache-not-open li[data-cache='broken']")));
        String shown = textOf(By.cssSelector("#pcache-not-open li[data-cache='broken']"));
        assertTrue(shown.startsWith("broken (failed): superblock at cache-device offset 4096 (0x1000): magic"
                + " 0xffffffffffffffff is not dm-pcache's"), shown);
        // pcache:remove refuses a damaged cache device (it might hold dirty data): the foreign bytes go first
        ForeignDevices.clear(device);
        PcacheProcess.CtlResult removed = pcache.ctl("pcache:remove broken");
        assertEquals(0, removed.status(), removed.out() + removed.err());
        wait.until(ExpectedConditions.invisibilityOfElementLocated(By.id("pcache-not-open")));
    }

    /** Waits (bounded) until {@code pcache:status} of the cache shows {@code text}. */
    private static void awaitStatus(String text) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        String last = "";
        while (System.nanoTime() < deadline) {
            PcacheProcess.CtlResult status = pcache.ctl("pcache:status " + CACHE);
            last = status.out() + status.err();
            if (last.contains(text)) {
                return;
            }
            Thread.sleep(200);
        }
        fail("pcache:status " + CACHE + " does not show '" + text + "' after " + WAIT.toSeconds() + " s:\n" + last);
    }
}
