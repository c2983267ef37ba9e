package pcache.pmem.testing.internal;

import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import pcache.api.DeviceClosedException;
import pcache.api.spi.PmemRegion;
import pcache.io.InterruptSafeChannel;

/**
 * A cache device file whose stores stay in process memory until they are flushed: a store
 * copies the 4 KiB page it touches into the heap (once) and changes it there; {@link #flush}
 * writes the pages of its range that hold stores to the file ({@code pwrite}) and drops them from
 * the heap. Killing the process therefore loses every store that was not flushed, which is what a
 * power cut does to a pmem device, while the page cache keeps what was flushed (a SIGKILL does
 * not lose the page cache). A mapped file cannot show a missing flush this way: there a SIGKILL
 * keeps every store.
 *
 * <p>Within the {@link PmemRegion} persistence model: a flushed page is written whole, so it may
 * carry unflushed stores of other threads to the same page (the model allows a crash to keep
 * them), and it is on the file before the fence (likewise allowed). An aligned 8-byte store lies
 * in one page and is copied under the page's lock: never torn. This region does not survive a
 * power cut of the machine ({@link #fence()} does not sync): it models one for process kills only.
 */
final class VolatileUntilFlushRegion implements PmemRegion {

    static final int PAGE_BYTES = 4096;

    /** A page holding stores not yet written to the file; {@code written} once flush dropped it. */
    private static final class Page {
        final byte[] bytes;
        boolean written;

        Page(byte[] bytes) {
            this.bytes = bytes;
        }
    }

    private final String device;
    private final long sizeBytes;
    private final InterruptSafeChannel channel;
    private final ConcurrentHashMap<Long, Page> unflushed = new ConcurrentHashMap<>();

    VolatileUntilFlushRegion(Path path, FileChannel channel, long sizeBytes) {
        this.device = "cache device " + path + " (volatile-until-flush, for tests)";
        this.sizeBytes = sizeBytes;
        this.channel = new InterruptSafeChannel(channel, path,
                Set.of(StandardOpenOption.READ, StandardOpenOption.WRITE), device);
    }

    @Override
    public long sizeBytes() {
        return sizeBytes;
    }

    @Override
    public String description() {
        return device;
    }

    @Override
    public boolean isDirectAccess() {
        return false;
    }

    /** The number of pages holding unflushed stores (what a kill now would lose). */
    int unflushedPages() {
        return unflushed.size();
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        int length = dst.remaining();
        check(offset, length);
        int at = dst.position();
        for (int done = 0; done < length;) {
            long position = offset + done;
            long index = position / PAGE_BYTES;
            int inPage = (int) (position % PAGE_BYTES);
            int chunk = Math.min(length - done, PAGE_BYTES - inPage);
            ByteBuffer target = dst.duplicate().limit(at + done + chunk).position(at + done);
            if (!readUnflushed(index, inPage, target)) {
                readFile(position, target);
            }
            done += chunk;
        }
        dst.position(at + length);
    }

    private boolean readUnflushed(long index, int inPage, ByteBuffer target) {
        Page page = unflushed.get(index);
        if (page == null) {
            return false;
        }
        synchronized (page) {
            if (page.written) {
                return false; // on the file since: read it there
            }
            target.put(page.bytes, inPage, target.remaining());
            return true;
        }
    }

    private void readFile(long position, ByteBuffer target) throws IOException {
        int start = target.position();
        channel.call(ch -> {
            ByteBuffer into = target.duplicate();
            while (into.hasRemaining()) {
                long at = position + into.position() - start;
                if (ch.read(into, at) < 0) {
                    throw new EOFException(device + ": end of file at " + at);
                }
            }
            return null;
        });
    }

    @Override
    public void read(long offset, byte[] dst, int dstOffset, int length) throws IOException {
        Objects.checkFromIndexSize(dstOffset, length, dst.length);
        read(offset, ByteBuffer.wrap(dst, dstOffset, length));
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        int length = src.remaining();
        check(offset, length);
        int at = src.position();
        for (int done = 0; done < length;) {
            long position = offset + done;
            int inPage = (int) (position % PAGE_BYTES);
            int chunk = Math.min(length - done, PAGE_BYTES - inPage);
            ByteBuffer piece = src.duplicate().limit(at + done + chunk).position(at + done);
            store(position / PAGE_BYTES, inPage, (page, from) -> piece.get(page, from, chunk));
            done += chunk;
        }
        src.position(at + length);
    }

    @FunctionalInterface
    private interface PageStore {
        void apply(byte[] page, int inPage);
    }

    /** Applies a store to the in-memory copy of page {@code index}, making one if needed. */
    private void store(long index, int inPage, PageStore change) throws IOException {
        while (true) {
            Page page;
            try {
                page = unflushed.computeIfAbsent(index, this::load);
            } catch (UncheckedIOException e) {
                throw e.getCause();
            }
            synchronized (page) {
                if (!page.written) {
                    change.apply(page.bytes, inPage);
                    return;
                }
            }
            // a flush wrote and dropped this page meanwhile: take a fresh copy from the file
        }
    }

    private Page load(long index) {
        long start = index * PAGE_BYTES;
        byte[] bytes = new byte[(int) Math.min(PAGE_BYTES, sizeBytes - start)];
        try {
            readFile(start, ByteBuffer.wrap(bytes));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new Page(bytes);
    }

    @Override
    public void write(long offset, byte[] src, int srcOffset, int length) throws IOException {
        Objects.checkFromIndexSize(srcOffset, length, src.length);
        write(offset, ByteBuffer.wrap(src, srcOffset, length));
    }

    @Override
    public void fill(long offset, long length, byte value) throws IOException {
        check(offset, length);
        for (long done = 0; done < length;) {
            long position = offset + done;
            int inPage = (int) (position % PAGE_BYTES);
            int chunk = (int) Math.min(length - done, PAGE_BYTES - inPage);
            store(position / PAGE_BYTES, inPage, (page, from) -> java.util.Arrays.fill(page, from, from + chunk, value));
            done += chunk;
        }
    }

    @Override
    public long getLong(long offset) throws IOException {
        ByteBuffer bytes = ByteBuffer.allocate(Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        read(offset, bytes);
        return bytes.getLong(0);
    }

    @Override
    public void putLong(long offset, long value) throws IOException {
        write(offset, ByteBuffer.allocate(Long.BYTES).order(ByteOrder.LITTLE_ENDIAN).putLong(0, value));
    }

    /** A copy: stores live in pages that a flush drops. */
    @Override
    public ByteBuffer view(long offset, int length) throws IOException {
        ByteBuffer copy = ByteBuffer.allocate(length);
        read(offset, copy);
        return copy.flip().asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Writes the pages of the range that hold stores to the file and drops them from memory. */
    @Override
    public void flush(long offset, long length) throws IOException {
        check(offset, length);
        if (length == 0) {
            return;
        }
        long first = offset / PAGE_BYTES;
        long last = (offset + length - 1) / PAGE_BYTES;
        if (last - first + 1 > unflushed.size()) {
            // a wide range (a format, a whole segment): visit the few held pages instead
            List<Long> held = new ArrayList<>(unflushed.keySet());
            for (long index : held) {
                if (index >= first && index <= last) {
                    writeBack(index);
                }
            }
        } else {
            for (long index = first; index <= last; index++) {
                writeBack(index);
            }
        }
    }

    private void writeBack(long index) throws IOException {
        Page page = unflushed.get(index);
        if (page == null) {
            return;
        }
        synchronized (page) {
            if (page.written) {
                return;
            }
            long start = index * PAGE_BYTES;
            channel.call(ch -> {
                ByteBuffer from = ByteBuffer.wrap(page.bytes);
                while (from.hasRemaining()) {
                    ch.write(from, start + from.position());
                }
                return null;
            });
            page.written = true;
            unflushed.remove(index, page);
        }
    }

    /**
     * Nothing to wait for: flush has written its pages to the file, where a process kill cannot
     * take them back.
     */
    @Override
    public void fence() throws IOException {
        if (channel.isClosed()) {
            throw new DeviceClosedException(device + " is closed");
        }
    }

    /** Writes every held page, syncs the file and closes it. */
    @Override
    public void close() throws IOException {
        if (channel.isClosed()) {
            return;
        }
        try {
            flush(0, sizeBytes);
            channel.call(ch -> {
                ch.force(false);
                return null;
            });
        } finally {
            channel.close();
        }
    }

    private void check(long offset, long length) throws DeviceClosedException {
        if (offset < 0 || length < 0 || offset > sizeBytes || length > sizeBytes - offset) {
            throw new IndexOutOfBoundsException(device + ": range [" + offset + ", +" + length
                    + ") lies outside the region of " + sizeBytes + " bytes");
        }
        if (channel.isClosed()) {
            throw new DeviceClosedException(device + " is closed");
        }
    }

    @Override
    public String toString() {
        return device;
    }
}
