package dev.orionis.agent;

import java.io.FileInputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.msgpack.core.MessagePack;
import org.msgpack.core.MessageUnpacker;
import org.msgpack.value.Value;

/** Writes the records of a spec/vectors/NAME.json file with this agent's TraceFile (spec
 * section 13, step 1): `java -cp orion-agent.jar dev.orionis.agent.VectorWriter IN OUT`,
 * where IN is the vector's JSON as msgpack (tests/agents/java/test_vectors.py makes it: the
 * JDK reads no JSON). The test suite then checks that the decoded records equal the
 * vector's. */
public final class VectorWriter {
    private static final String[] TIMED = {"call", "return", "exception", "unwind", "crash", "stack", "event"};

    private TraceFile file;

    private VectorWriter() {
    }

    public static void main(String[] args) throws IOException {
        Map<String, Object> vector;
        try (MessageUnpacker in = MessagePack.newDefaultUnpacker(new FileInputStream(args[0]))) {
            vector = asMap(plain(in.unpackValue()));
        }
        new VectorWriter().write(vector, Paths.get(args[1]).toAbsolutePath());
    }

    private void write(Map<String, Object> vector, Path out) throws IOException {
        List<?> records = (List<?>) vector.get("records");
        Map<String, Object> header = new LinkedHashMap<>(asMap(records.get(0)));
        header.remove("type");
        file = new TraceFile(out.getParent().toString(), out.getFileName().toString(), header, 0);
        for (Object item : records.subList(1, records.size())) {
            Map<String, Object> r = asMap(item);
            String type = (String) r.get("type");
            if (type.equals("end")) {
                Map<String, Object> summary = new LinkedHashMap<>(r);
                summary.keySet().removeAll(List.of("type", "counts", "checksum"));
                file.finish(summary);
                return;
            }
            write(type, r);
        }
        if (Boolean.TRUE.equals(vector.get("truncated"))) {
            cutLastFrame(out);
        } else {
            file.abandon();
        }
    }

    private void write(String type, Map<String, Object> r) throws IOException {
        switch (type) {
            case "string": {
                int id = file.intern((String) r.get("text"));
                if (id != ((Number) r.get("id")).intValue()) {
                    throw new IllegalStateException("string " + r.get("id") + " out of order");
                }
                break;
            }
            case "function": {
                List<Object> columns = new ArrayList<>(Arrays.asList(r.get("id"), sid(r.get("name")),
                        sid(r.get("module")), sid(r.get("file")), r.get("line")));
                if (r.containsKey("addr")) {
                    columns.add(r.get("addr"));
                }
                file.record(2, 0, columns.toArray());
                break;
            }
            case "module": {
                List<Object> columns = new ArrayList<>(Arrays.asList(r.get("id"), sid(r.get("path")), r.get("base"),
                        r.get("build_id") == null ? null : hex((String) r.get("build_id"))));
                if (r.containsKey("size") || r.containsKey("mtime")) {
                    columns.add(r.get("size"));
                }
                if (r.containsKey("mtime")) {
                    columns.add(r.get("mtime"));
                }
                file.record(11, 0, columns.toArray());
                break;
            }
            case "lane":
                file.record(3, 0, r.get("id"), sid(r.get("name")), sid(r.get("kind")), r.get("native_id"), r.get("parent"));
                break;
            default:
                timed(type, r);
        }
    }

    private void timed(String type, Map<String, Object> r) throws IOException {
        long t = ((Number) r.get("t")).longValue();
        int code = 4 + List.of(TIMED).indexOf(type);
        Object lane = r.get("lane");
        switch (type) {
            case "call": {
                List<Object> columns = new ArrayList<>(Arrays.asList(lane, r.get("fn")));
                if (r.containsKey("args") || r.containsKey("site")) {
                    columns.add(pairs(r.get("args")));
                }
                if (r.containsKey("site")) {
                    columns.add(r.get("site"));
                }
                file.record(code, t, columns.toArray());
                break;
            }
            case "return":
                file.record(code, t, r.containsKey("value") ? new Object[] {lane, wire(r.get("value"))} : new Object[] {lane});
                break;
            case "exception":
                file.record(code, t, lane, "raised".equals(r.get("kind")) ? 0 : 1, sid(r.get("exc_type")),
                        r.get("message"), r.get("line"));
                break;
            case "unwind":
                file.record(code, t, r.containsKey("locals") ? new Object[] {lane, r.get("line"), pairs(r.get("locals"))}
                        : new Object[] {lane, r.get("line")});
                break;
            case "crash":
                file.record(code, t, lane, r.get("kind"), r.get("reason"), r.get("message"), r.get("detail"));
                break;
            case "stack": {
                List<Object> frames = new ArrayList<>();
                for (Object f : (List<?>) r.get("frames")) {
                    Map<String, Object> frame = asMap(f);
                    frames.add(Arrays.asList(frame.get("fn"), frame.get("line"), pairs(frame.get("locals"))));
                }
                file.record(code, t, lane, r.get("reason"), frames);
                break;
            }
            case "event":
                file.record(code, t, lane, sid(r.get("kind")), r.get("attrs"));
                break;
            default:
                throw new IllegalArgumentException("record type " + type + " is not written by this agent");
        }
    }

    private Object sid(Object text) throws IOException {
        return text == null ? null : file.intern((String) text);
    }

    /** A decoded captured value (spec section 7) as this agent holds one: a Node or a scalar. */
    private Object wire(Object value) {
        if (!(value instanceof Map)) {
            return value;
        }
        Map<String, Object> v = asMap(value);
        String type = (String) v.get("t");
        int cut = v.containsKey("cut") ? ((Number) v.get("cut")).intValue() : -1;
        if ("bytes".equals(type) && v.containsKey("text") && !file.defines("bytes")) {
            return hex((String) v.get("text")); // a msgpack bin, which readers show as hex text
        }
        if (v.containsKey("text")) {
            return new Node(Node.TEXT, type, v.get("text"), cut);
        }
        if (v.containsKey("items")) {
            List<Object> items = new ArrayList<>();
            for (Object item : (List<?>) v.get("items")) {
                items.add(wire(item));
            }
            return new Node(Node.SEQ, type, items, cut);
        }
        if (v.containsKey("entries")) {
            List<Object> items = new ArrayList<>();
            for (Object entry : (List<?>) v.get("entries")) {
                items.add(wire(((List<?>) entry).get(0)));
                items.add(wire(((List<?>) entry).get(1)));
            }
            return new Node(Node.MAP, type, items, cut);
        }
        if (v.containsKey("fields")) {
            return new Node(Node.OBJECT, type, pairs(v.get("fields")).items, cut);
        }
        if (Boolean.TRUE.equals(v.get("redacted"))) {
            return new Node(Node.REDACTED, type, null, -1);
        }
        if (Boolean.TRUE.equals(v.get("elided"))) {
            return new Node(Node.ELIDED, type, v.containsKey("len") ? ((Number) v.get("len")).intValue() : null, -1);
        }
        if (v.containsKey("error")) {
            return new Node(Node.ERROR, type, v.get("error"), -1);
        }
        throw new IllegalArgumentException("unknown value " + v);
    }

    private TraceFile.Pairs pairs(Object map) {
        if (map == null) {
            return null;
        }
        List<Object> items = new ArrayList<>();
        for (Map.Entry<String, Object> e : asMap(map).entrySet()) {
            items.add(e.getKey());
            items.add(wire(e.getValue()));
        }
        return new TraceFile.Pairs(items);
    }

    /** Ends the trace as a process killed while writing a frame does (spec/vectors/truncated):
     * one more frame, cut in half. */
    private void cutLastFrame(Path out) throws IOException {
        file.writeFrames(file.takeFrames());
        long complete = Files.size(out);
        file.record(5, 0, 0);
        file.writeFrames(file.takeFrames());
        file.abandon();
        try (RandomAccessFile f = new RandomAccessFile(out.toFile(), "rw")) {
            f.setLength(complete + (f.length() - complete) / 2);
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> asMap(Object value) {
        return (Map<String, Object>) value;
    }

    private static byte[] hex(String text) {
        byte[] bytes = new byte[text.length() / 2];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) Integer.parseInt(text.substring(2 * i, 2 * i + 2), 16);
        }
        return bytes;
    }

    /** A msgpack value as plain Java: maps, lists, Long, Double, String, byte[], Boolean, null. */
    private static Object plain(Value v) {
        switch (v.getValueType()) {
            case NIL: return null;
            case BOOLEAN: return v.asBooleanValue().getBoolean();
            case INTEGER: return v.asIntegerValue().toLong();
            case FLOAT: return v.asFloatValue().toDouble();
            case STRING: return v.asStringValue().asString();
            case BINARY: return v.asBinaryValue().asByteArray();
            case ARRAY: {
                List<Object> items = new ArrayList<>();
                for (Value item : v.asArrayValue()) {
                    items.add(plain(item));
                }
                return items;
            }
            default: {
                Map<String, Object> map = new LinkedHashMap<>();
                for (Map.Entry<Value, Value> e : v.asMapValue().entrySet()) {
                    map.put(e.getKey().asStringValue().asString(), plain(e.getValue()));
                }
                return map;
            }
        }
    }
}
