package dev.orionis.agent;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import org.msgpack.core.MessagePacker;

/** Packs the plain values of headers, summaries and crash details (maps, lists, strings,
 * numbers, booleans, nil) and the scalars of captured values. */
final class Msgpack {
    private Msgpack() {
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
