package pcache.shell.internal;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import pcache.api.BackingState;
import pcache.api.CacheDevice;
import pcache.api.CacheMode;
import pcache.api.CachePos;
import pcache.api.CacheStatistics;
import pcache.api.CacheStatus;
import pcache.api.spi.BackingDevice;
import pcache.api.spi.BackingIdentity;
import pcache.api.spi.CrcProvider;
import pcache.api.spi.PmemProvider;
import pcache.api.spi.PmemRegion;

/** Plain fakes of the services pcache:list shows. */
final class Fakes {

    private Fakes() {
    }

    /** A cache with fixed answers; {@code status == null} makes status() throw. */
    record FakeCache(String name, long sizeBytes, CacheMode mode, CacheStatus status) implements CacheDevice {
        @Override
        public CacheStatus status() {
            if (status == null) {
                throw new IllegalStateException("cache " + name + " is closing");
            }
            return status;
        }

        @Override
        public CacheStatistics statistics() {
            throw new UnsupportedOperationException();
        }

        @Override
        public void setMode(CacheMode m) {
            throw new UnsupportedOperationException();
        }

        @Override
        public int gcPercent() {
            return 70;
        }

        @Override
        public void setGcPercent(int percent) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void drain(DrainProgress progress) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void read(long offset, ByteBuffer dst) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void write(long offset, ByteBuffer src, boolean fua) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void flush() {
        }

        @Override
        public void trim(long offset, long length) {
        }

        @Override
        public void writeZeroes(long offset, long length, boolean fua) {
            throw new UnsupportedOperationException();
        }
    }

    static CacheStatus status(String name, boolean clean, BackingState state, String backing) {
        CachePos head = new CachePos(3, 4096);
        CachePos dirtyTail = clean ? head : new CachePos(2, 0);
        return new CacheStatus(name, 0, 64, 60, 5, 70, 0x1182, head, dirtyTail, new CachePos(1, 0),
                CacheMode.WRITEBACK, false, state, backing, "/data/" + name + ".cache (mapped)");
    }

    record FakeBacking(long sizeBytes, String id, BackingState state) implements BackingDevice {
        @Override
        public BackingIdentity identity() {
            return new BackingIdentity(sizeBytes, id);
        }

        @Override
        public String description() {
            return "fake:" + id;
        }

        @Override
        public void read(long offset, ByteBuffer dst) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void write(long offset, ByteBuffer src, boolean fua) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void flush() {
        }

        @Override
        public void trim(long offset, long length) {
        }

        @Override
        public void writeZeroes(long offset, long length, boolean fua) {
            throw new UnsupportedOperationException();
        }
    }

    static ListReport.BackingEntry backing(String name, String driver, BackingDevice device) {
        Map<String, Object> props = new HashMap<>();
        props.put(BackingDevice.NAME, name);
        props.put(BackingDevice.DRIVER, driver);
        return new ListReport.BackingEntry(props, device);
    }

    record FakePmem(String type) implements PmemProvider {
        @Override
        public PmemRegion open(Path path, long createSizeBytes) {
            throw new UnsupportedOperationException();
        }
    }

    record FakeCrc(String algorithm) implements CrcProvider {
        @Override
        public int checksum(ByteBuffer data) {
            return 0;
        }

        @Override
        public int checksum(byte[] data, int offset, int length) {
            return 0;
        }
    }
}
