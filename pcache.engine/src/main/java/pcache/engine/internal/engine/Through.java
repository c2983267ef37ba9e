package pcache.engine.internal.engine;

import java.util.ArrayList;
import java.util.List;

import pcache.api.spi.CacheKey;

/**
 * What the write path keeps for a client's write-through request ({@link WriteThroughOrder}): a
 * copy of each key it logs, for marking once its backing write has landed. Where its keys replace
 * pieces marked as on the backing device in the current epoch, the write path marks the pieces of
 * its keys over them at once: the version that landed there keeps older ones out while this one
 * is on its way. (If this one fails, write-back stops relying on marks altogether:
 * {@link WriteThroughOrder#distrust}.)
 */
record Through(List<CacheKey> logged) {

    Through() {
        this(new ArrayList<>(2));
    }
}
