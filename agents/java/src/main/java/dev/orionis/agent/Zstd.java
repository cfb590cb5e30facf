package dev.orionis.agent;

import io.airlift.compress.zstd.ZstdCompressor;
import java.io.ByteArrayOutputStream;

/** One zstd frame of a batch of records (spec section 3). Compressed by aircompressor, except
 * on JDK 24 and later: there the JVM prints a warning on stderr at the first memory access
 * through sun.misc.Unsafe, which aircompressor makes, and the program's stderr must stay its
 * own; frames then hold raw blocks (valid zstd, not compressed: DESIGN.md's fallback). */
final class Zstd {
    /** The JDKs that warn (JEP 498), unless the program allows it itself. */
    static final boolean UNSAFE_WARNS = Runtime.version().feature() >= 24
            && !"allow".equals(System.getProperty("sun.misc.unsafe.memory.access"));
    private static final int MAX_BLOCK = 128 << 10;

    private final ZstdCompressor compressor = UNSAFE_WARNS ? null : new ZstdCompressor();

    byte[] frame(byte[] raw) {
        if (compressor != null) {
            byte[] packed = new byte[compressor.maxCompressedLength(raw.length)];
            int n = compressor.compress(raw, 0, raw.length, packed, 0, packed.length);
            return java.util.Arrays.copyOf(packed, n);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(raw.length + 16);
        littleEndian(out, 0xFD2FB528L, 4); // magic
        out.write(0xA0); // frame header: single segment, a 4-byte content size, no checksum
        littleEndian(out, raw.length, 4);
        for (int at = 0; at < raw.length || at == 0; at += MAX_BLOCK) {
            int size = Math.min(MAX_BLOCK, raw.length - at);
            boolean last = at + size >= raw.length;
            littleEndian(out, (long) size << 3 | (last ? 1 : 0), 3); // raw block (type 0)
            out.write(raw, at, size);
            if (last) {
                break;
            }
        }
        return out.toByteArray();
    }

    private static void littleEndian(ByteArrayOutputStream out, long value, int bytes) {
        for (int i = 0; i < bytes; i++) {
            out.write((int) (value >>> (8 * i)) & 0xFF);
        }
    }
}
