package dev.orionis.agent;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import org.msgpack.core.MessagePacker;
import org.msgpack.core.buffer.MessageBuffer;

/** Packs the plain values of headers, summaries and crash details (maps, lists, strings,
 * numbers, booleans, nil) and the scalars of captured values. */
final class Msgpack {
    private Msgpack() {
    }

    /** Loads msgpack-core's buffers without sun.misc.Unsafe where the JVM would warn about
     * it on stderr (Zstd.UNSAFE_WARNS): its MessageBuffer picks the ByteBuffer-based one when
     * this property is set as it loads; set only for that moment. */
    static void loadWithoutUnsafe() throws ClassNotFoundException {
        if (!Zstd.UNSAFE_WARNS) {
            return;
        }
        String property = "msgpack.universal-buffer";
        String before = System.getProperty(property);
        System.setProperty(property, "true");
        try {
            Class.forName(MessageBuffer.class.getName(), true, MessageBuffer.class.getClassLoader());
        } finally {
            if (before == null) {
                System.clearProperty(property);
            } else {
                System.setProperty(property, before);
            }
        }
    }

    static void pack(MessagePacker p, Object v) throws IOException {
        if (v == null) {
            p.packNil();
        } else if (v instanceof String) {
            p.packString((String) v);
        } else if (v instanceof byte[]) {
            p.packBinaryHeader(((byte[]) v).length).writePayload((byte[]) v);
        } else if (v instanceof Boolean) {
            p.packBoolean((Boolean) v);
        } else if (v instanceof Double || v instanceof Float) {
            p.packDouble(((Number) v).doubleValue());
        } else if (v instanceof Number) {
            p.packLong(((Number) v).longValue());
        } else if (v instanceof Map) {
            Map<?, ?> m = (Map<?, ?>) v;
            p.packMapHeader(m.size());
            for (Map.Entry<?, ?> e : m.entrySet()) {
                pack(p, e.getKey());
                pack(p, e.getValue());
            }
        } else if (v instanceof List) {
            List<?> l = (List<?>) v;
            p.packArrayHeader(l.size());
            for (Object item : l) {
                pack(p, item);
            }
        } else {
            p.packString(v.toString());
        }
    }
}
