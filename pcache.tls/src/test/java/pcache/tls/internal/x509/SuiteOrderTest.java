package pcache.tls.internal.x509;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

import javax.net.ssl.SSLContext;

import org.junit.jupiter.api.Test;

class SuiteOrderTest {

    @Test
    void theJdksSuitesKeepTheirSetAndEachAes128GcmComesBeforeItsAes256Twin() throws Exception {
        String[] jdk = SSLContext.getDefault().createSSLEngine().getEnabledCipherSuites();
        String[] ordered = SuiteOrder.preferAes128(jdk);

        String[] sortedJdk = jdk.clone();
        String[] sortedOrdered = ordered.clone();
        Arrays.sort(sortedJdk);
        Arrays.sort(sortedOrdered);
        assertArrayEquals(sortedJdk, sortedOrdered, "the same suites, none added or dropped");

        List<String> list = List.of(ordered);
        assertTrue(list.indexOf("TLS_AES_128_GCM_SHA256") >= 0, list::toString);
        int twins = 0;
        for (String suite : ordered) {
            String twin = SuiteOrder.aes128Twin(suite);
            if (twin != null && list.contains(twin)) {
                twins++;
                assertTrue(list.indexOf(twin) < list.indexOf(suite), twin + " before " + suite + " in " + list);
            }
        }
        assertTrue(twins >= 2, "TLS 1.3's and at least one TLS 1.2 pair: " + list);

        List<String> othersBefore = Arrays.stream(jdk).filter(s -> !s.contains("_GCM_")).toList();
        List<String> othersAfter = list.stream().filter(s -> !s.contains("_GCM_")).toList();
        assertEquals(othersBefore, othersAfter, "suites without GCM keep their order");
    }

    @Test
    void onlyATwinThatComesLaterIsMoved() {
        assertArrayEquals(new String[] {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"},
                SuiteOrder.preferAes128(new String[] {"TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256",
                        "TLS_CHACHA20_POLY1305_SHA256"}));
        String[] already = {"TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_256_GCM_SHA384"};
        assertArrayEquals(already, SuiteOrder.preferAes128(already));
        String[] alone = {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"};
        assertArrayEquals(alone, SuiteOrder.preferAes128(alone), "no twin of the same key exchange: unchanged");
        assertArrayEquals(new String[] {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
                SuiteOrder.preferAes128(new String[] {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}));
        assertNull(SuiteOrder.aes128Twin("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"));
    }

    @Test
    void anOrderGivenToTheJdkIsTheOperatorsForThatSideOnly() {
        assertFalse(SuiteOrder.operatorOrdered(true), "the build sets no " + SuiteOrder.SERVER_PROPERTY);
        assertFalse(SuiteOrder.operatorOrdered(false), "the build sets no " + SuiteOrder.CLIENT_PROPERTY);
        Map<String, String> server = Map.of(SuiteOrder.SERVER_PROPERTY, "TLS_AES_256_GCM_SHA384");
        assertTrue(SuiteOrder.operatorOrdered(true, server::get));
        assertFalse(SuiteOrder.operatorOrdered(false, server::get));
        Map<String, String> client = Map.of(SuiteOrder.CLIENT_PROPERTY, "\"TLS_AES_256_GCM_SHA384\"");
        assertTrue(SuiteOrder.operatorOrdered(false, client::get));
        assertFalse(SuiteOrder.operatorOrdered(true, client::get));
        for (String empty : new String[] {"", "  ", "\"\"", "\" \""}) {
            Map<String, String> blank = Map.of(SuiteOrder.SERVER_PROPERTY, empty);
            assertFalse(SuiteOrder.operatorOrdered(true, blank::get), "'" + empty + "' is no order");
        }
    }
}
