package dev.orionis.agent;

import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import org.msgpack.core.MessageBufferPacker;
import org.msgpack.core.MessagePack;

/** The file side of one trace (spec sections 1-6 and 10): the prelude, one zstd frame per
 * flushed batch of records, interned strings, function and lane definitions made on first
 * use, the end record and the trailer. Records are packed by callers holding the trace's
 * lock; a full batch is only set aside there (cutFrame), and compressed and written by
 * writeFrames, which callers run outside that lock, one at a time and in order. */
final class TraceFile {
    private static final byte[] SKIPPABLE_MAGIC = {0x5A, 0x2A, 0x4D, 0x18};
    /** A batch is set aside as a frame at this size (the flushing thread writes it at once). */
    static final int FRAME_TARGET = 64 << 10;

    final Path path;
    private final FileOutputStream out;
    private final long startNanos;
    private MessageBufferPacker buf = MessagePack.newDefaultBufferPacker();
    private final Zstd zstd = new Zstd();
    private final CRC32 crc = new CRC32();
    private long frameT;
    /** The packer's byte count where the current frame began. */
    private long frameStart;
    /** Batches set aside and not yet written, oldest first. */
    private final List<byte[]> cut = new ArrayList<>();
    private long records;
    private long maxT;
    private final Map<String, Integer> strings = new HashMap<>();
    private final Map<Integer, Integer> functions = new HashMap<>();
    private final Map<String, Integer> externals = new HashMap<>();
    private final Map<Lane, Integer> lanes = new IdentityHashMap<>();
    private int functionsDefined;
    private int lanesDefined;
    private final Map<Lane, Long> laneTimes = new IdentityHashMap<>();
    private final Map<String, Long> counts = new LinkedHashMap<>();

    TraceFile(String spool, String fileName, Map<String, Object> header, long startNanos) throws IOException {
        for (String key : new String[] {"calls", "returns", "unwinds", "exceptions", "crashes", "stacks", "events"}) {
            counts.put(key, 0L);
        }
        this.startNanos = startNanos;
        Path dir = Paths.get(spool);
        Files.createDirectories(dir);
        path = dir.resolve(fileName);
        Path partial = dir.resolve("." + fileName + ".tmp");
        out = new FileOutputStream(partial.toFile());
        out.write(SKIPPABLE_MAGIC);
        out.write(new byte[] {16, 0, 0, 0});
        out.write("\u0089OTRACE\n".getBytes(StandardCharsets.ISO_8859_1));
        out.write(new byte[] {1, 0, 0, 0, 0, 0, 0, 0});
        records++;
        buf.packArrayHeader(2).packInt(0);
        Msgpack.pack(buf, header);
        writeFrames(takeFrames()); // the header alone in the first frame, on disk at once (spec 3)
        Files.move(partial, path, StandardCopyOption.ATOMIC_MOVE);
    }

    long maxT() {
        return maxT;
    }

    /** Whether the file defines the string `s` already. */
    boolean defines(String s) {
        return strings.containsKey(s);
    }

    int functionCount() {
        return functionsDefined;
    }

    private void bump(String count) {
        counts.merge(count, 1L, Long::sum);
    }

    /** The trace's time of `nanos` on `lane`, never before the lane's last event (6.1). */
    long timeOn(Lane lane, long nanos) {
        long t = Math.max(0, nanos - startNanos);
        Long last = laneTimes.get(lane);
        if (last != null && t < last) {
            t = last;
        }
        laneTimes.put(lane, t);
        maxT = Math.max(maxT, t);
        return t;
    }

    int intern(String s) throws IOException {
        Integer id = strings.get(s);
        if (id != null) {
            return id;
        }
        id = strings.size();
        strings.put(s, id);
        records++;
        buf.packArrayHeader(3).packInt(1).packInt(id).packString(s);
        return id;
    }

    private void sidOrNil(String s) throws IOException {
        if (s == null || s.isEmpty()) {
            buf.packNil();
        } else {
            buf.packInt(intern(s));
        }
    }

    /** An instrumented method's id in this file, defined on first use. */
    int function(int registered) throws IOException {
        Integer id = functions.get(registered);
        if (id == null) {
            Functions.Info info = Functions.get(registered);
            id = defineFunction(info.qualifiedName(), info.module(), info.file, info.line);
            functions.put(registered, id);
        }
        return id;
    }

    /** A frame of code the agent did not instrument (the JDK, a library): only in stacks. */
    int external(StackTraceElement frame) throws IOException {
        String cls = frame.getClassName();
        String key = cls + "#" + frame.getMethodName();
        Integer id = externals.get(key);
        if (id == null) {
            int dot = cls.lastIndexOf('.');
            id = defineFunction(cls.substring(dot + 1) + "." + frame.getMethodName(),
                    dot < 0 ? "" : cls.substring(0, dot), frame.getFileName(), 0);
            externals.put(key, id);
        }
        return id;
    }

    private int defineFunction(String name, String module, String file, int line) throws IOException {
        int nameId = intern(name);
        int moduleId = intern(module);
        int fileId = intern(file == null ? "" : file);
        int id = functionsDefined++;
        records++;
        buf.packArrayHeader(6).packInt(2).packInt(id).packInt(nameId).packInt(moduleId).packInt(fileId);
        if (line > 0) {
            buf.packInt(line);
        } else {
            buf.packNil();
        }
        return id;
    }

    /** A lane's id, defined (its parent first) on first use. */
    int lane(Lane lane) throws IOException {
        Integer id = lanes.get(lane);
        if (id != null) {
            return id;
        }
        int parent = lane.parent == null ? -1 : lane(lane.parent);
        int name = intern(lane.name);
        int kind = intern(lane.kind);
        id = lanesDefined++;
        lanes.put(lane, id);
        records++;
        buf.packArrayHeader(6).packInt(3).packInt(id).packInt(name).packInt(kind).packLong(lane.threadId);
        if (parent >= 0) {
            buf.packInt(parent);
        } else {
            buf.packNil();
        }
        return id;
    }

    private void timed(int code, int columns, long t, int lane) throws IOException {
        records++;
        buf.packArrayHeader(columns).packInt(code).packLong(t - frameT).packInt(lane);
        frameT = t;
    }

    /** Packs `e`; true when that ended a frame, for the flushing thread to write. */
    boolean write(Event e) throws IOException {
        int lane = lane(e.lane);
        if (e.kind != Event.RAISED && e.kind != Event.CAUGHT && e.kind != Event.SPAN && e.data != Event.NO_VALUE) {
            internValues(e.data);
        }
        switch (e.kind) {
            case Event.CALL: {
                int fn = function(e.fn);
                long t = timeOn(e.lane, e.nanos);
                bump("calls");
                timed(4, e.data == null ? 4 : 5, t, lane);
                buf.packInt(fn);
                if (e.data != null) {
                    pairs(e.pairs());
                }
                break;
            }
            case Event.RETURN: {
                long t = timeOn(e.lane, e.nanos);
                bump("returns");
                boolean valued = e.data != Event.NO_VALUE;
                timed(5, valued ? 4 : 3, t, lane);
                if (valued) {
                    value(e.data);
                }
                break;
            }
            case Event.UNWIND: {
                long t = timeOn(e.lane, e.nanos);
                bump("unwinds");
                timed(7, e.data == null ? 4 : 5, t, lane);
                lineOrNil(e.line);
                if (e.data != null) {
                    pairs(e.pairs());
                }
                break;
            }
            case Event.SPAN: {
                Object[] what = (Object[]) e.data;
                int kind = intern((String) what[0]);
                long t = timeOn(e.lane, e.nanos);
                bump("events");
                timed(10, 5, t, lane);
                buf.packInt(kind);
                Msgpack.pack(buf, what[1]);
                break;
            }
            default: { // RAISED, CAUGHT
                String[] what = (String[]) e.data;
                int type = intern(what[0]);
                long t = timeOn(e.lane, e.nanos);
                bump("exceptions");
                timed(6, 7, t, lane);
                buf.packInt(e.kind == Event.RAISED ? 0 : 1).packInt(type).packString(what[1]);
                lineOrNil(e.line);
            }
        }
        return maybeCut();
    }

    /** Captured values' name/value pairs, as a column of `record` packs them (names by sid). */
    static final class Pairs {
        final List<Object> items;

        Pairs(List<Object> items) {
            this.items = items;
        }
    }

    /** Any record, its columns as given: a Node is a captured value, Pairs are pairs, a List
     * an array of such columns, anything else a plain msgpack value (Msgpack.pack). Timed
     * records (spec 6.1) get `t` (the trace's time) as their dt; definitions count as what
     * they define. It writes what an agent of another language records (the vectors of
     * spec section 13: VectorWriter); this agent's own events go through write(). */
    void record(int type, long t, Object... columns) throws IOException {
        boolean timed = type >= 4 && type <= 10;
        for (Object column : columns) {
            internStrings(column);
        }
        records++;
        buf.packArrayHeader(1 + (timed ? 1 : 0) + columns.length).packInt(type);
        if (timed) {
            buf.packLong(t - frameT);
            frameT = t;
            maxT = Math.max(maxT, t);
            bump(TIMED_COUNTS[type - 4]);
        }
        functionsDefined += type == 2 ? 1 : 0;
        lanesDefined += type == 3 ? 1 : 0;
        for (Object column : columns) {
            column(column);
        }
        maybeCut();
    }

    private static final String[] TIMED_COUNTS = {"calls", "returns", "exceptions", "unwinds", "crashes", "stacks", "events"};

    /** Defines the strings a column's values refer to, before the record that holds them. */
    private void internStrings(Object column) throws IOException {
        if (column instanceof Node) {
            internValues(column);
        } else if (column instanceof Pairs) {
            internValues(((Pairs) column).items);
        } else if (column instanceof List) {
            for (Object item : (List<?>) column) {
                internStrings(item);
            }
        }
    }

    private void column(Object column) throws IOException {
        if (column instanceof Node) {
            value(column);
        } else if (column instanceof Pairs) {
            pairs(((Pairs) column).items);
        } else if (column instanceof List) {
            List<?> items = (List<?>) column;
            buf.packArrayHeader(items.size());
            for (Object item : items) {
                column(item);
            }
        } else {
            Msgpack.pack(buf, column);
        }
    }

    /** A stack record (outermost frame first): each frame {fn or StackTraceElement, line, locals}. */
    void stack(Lane lane, long nanos, String reason, List<Object[]> frames) throws IOException {
        int laneId = lane(lane);
        int[] ids = new int[frames.size()];
        for (int i = 0; i < ids.length; i++) {
            Object fn = frames.get(i)[0];
            ids[i] = fn instanceof Integer ? function((Integer) fn) : external((StackTraceElement) fn);
        }
        for (Object[] frame : frames) {
            if (frame[2] != null) {
                internValues(frame[2]);
            }
        }
        long t = timeOn(lane, nanos);
        bump("stacks");
        timed(9, 5, t, laneId);
        buf.packString(reason).packArrayHeader(frames.size());
        for (int i = 0; i < ids.length; i++) {
            Object[] frame = frames.get(i);
            buf.packArrayHeader(3).packInt(ids[i]);
            lineOrNil((Integer) frame[1]);
            if (frame[2] == null) {
                buf.packNil();
            } else {
                @SuppressWarnings("unchecked")
                List<Object> locals = (List<Object>) frame[2];
                pairs(locals);
            }
        }
    }

    void crash(Lane lane, long nanos, String kind, String reason, String message, Map<String, Object> detail) throws IOException {
        int laneId = lane(lane);
        long t = timeOn(lane, nanos);
        bump("crashes");
        timed(8, 7, t, laneId);
        buf.packString(kind).packString(reason).packString(message);
        Msgpack.pack(buf, detail);
    }

    private void lineOrNil(int line) throws IOException {
        if (line > 0) {
            buf.packInt(line);
        } else {
            buf.packNil();
        }
    }

    /** Defines the strings a value refers to before the record that holds it. */
    private void internValues(Object v) throws IOException {
        if (v instanceof Node) {
            Node n = (Node) v;
            if (n.type != null) {
                intern(n.type);
            }
            if (n.kind == Node.SEQ || n.kind == Node.MAP || n.kind == Node.OBJECT) {
                List<Object> items = n.items();
                for (int i = 0; i < items.size(); i++) {
                    if (n.kind == Node.OBJECT && i % 2 == 0) {
                        intern((String) items.get(i));
                    } else {
                        internValues(items.get(i));
                    }
                }
            }
        } else if (v instanceof List) {
            List<?> pairs = (List<?>) v;
            for (int i = 0; i < pairs.size(); i++) {
                if (i % 2 == 0) {
                    intern((String) pairs.get(i));
                } else {
                    internValues(pairs.get(i));
                }
            }
        }
    }

    /** Flat pairs, names as string ids (internValues defined them before the record). */
    private void pairs(List<Object> pairs) throws IOException {
        buf.packArrayHeader(pairs.size());
        for (int i = 0; i < pairs.size(); i++) {
            if (i % 2 == 0) {
                buf.packInt(strings.get((String) pairs.get(i)));
            } else {
                value(pairs.get(i));
            }
        }
    }

    private void value(Object v) throws IOException {
        if (!(v instanceof Node)) {
            Msgpack.pack(buf, v);
            return;
        }
        Node n = (Node) v;
        int columns = n.kind == Node.REDACTED ? 2 : n.kind == Node.ELIDED ? (n.payload == null ? 2 : 3)
                : n.cut >= 0 ? 4 : 3;
        buf.packArrayHeader(columns).packInt(n.kind);
        if (n.type == null) {
            buf.packNil();
        } else {
            buf.packInt(strings.get(n.type));
        }
        switch (n.kind) {
            case Node.TEXT:
            case Node.ERROR:
                buf.packString((String) n.payload);
                break;
            case Node.SEQ:
            case Node.MAP:
            case Node.OBJECT: {
                List<Object> items = n.items();
                buf.packArrayHeader(items.size());
                for (int i = 0; i < items.size(); i++) {
                    if (n.kind == Node.OBJECT && i % 2 == 0) {
                        buf.packInt(strings.get((String) items.get(i)));
                    } else {
                        value(items.get(i));
                    }
                }
                break;
            }
            case Node.ELIDED:
                if (n.payload != null) {
                    buf.packInt((Integer) n.payload);
                }
                break;
            default:
                break;
        }
        if (n.cut >= 0 && n.kind != Node.REDACTED && n.kind != Node.ELIDED) {
            buf.packInt(n.cut);
        }
    }

    /** Sets the batch aside as a frame once it is FRAME_TARGET big; true when it did. */
    private boolean maybeCut() throws IOException {
        if (buf.getTotalWrittenBytes() - frameStart < FRAME_TARGET) { // no flush() per record
            return false;
        }
        cutFrame();
        return true;
    }

    /** Ends the current frame: its records are set aside for writeFrames. */
    private void cutFrame() throws IOException {
        buf.flush();
        if (buf.getBufferSize() == 0) {
            return;
        }
        byte[] raw = buf.toByteArray();
        buf.clear();
        crc.update(raw);
        cut.add(raw);
        frameT = 0;
        frameStart = buf.getTotalWrittenBytes(); // the packer counts on across clear()
    }

    /** The frames to write, the current batch ended as one too (under the trace's lock). */
    List<byte[]> takeFrames() throws IOException {
        cutFrame();
        List<byte[]> frames = new ArrayList<>(cut);
        cut.clear();
        return frames;
    }

    /** Compresses and writes frames taken by takeFrames (outside the trace's lock: only the
     * thread that took them, and only one at a time, so that frames stay in order). */
    void writeFrames(List<byte[]> frames) throws IOException {
        for (byte[] raw : frames) {
            out.write(zstd.frame(raw));
        }
        out.flush();
    }

    /** Writes the end record (the summary given the counts and checksum) and the trailer. */
    void finish(Map<String, Object> summary) throws IOException {
        Map<String, Object> allCounts = new LinkedHashMap<>();
        allCounts.put("records", records);
        allCounts.putAll(counts);
        allCounts.put("functions", (long) functionCount());
        allCounts.put("lanes", (long) lanesDefined);
        summary.put("counts", allCounts);
        // the bytes so far are in the checksum; the end record, in the last frame, is not
        byte[] rest = buf.toByteArray();
        buf.clear();
        crc.update(rest);
        summary.put("checksum", crc.getValue());
        MessageBufferPacker packedSummary = MessagePack.newDefaultBufferPacker();
        Msgpack.pack(packedSummary, summary);
        byte[] s = packedSummary.toByteArray();
        buf.writePayload(rest);
        buf.packArrayHeader(2).packInt(15);
        buf.writePayload(s);
        List<byte[]> frames = new ArrayList<>(cut);
        cut.clear();
        frames.add(buf.toByteArray());
        buf.clear();
        writeFrames(frames);
        ByteBuffer trailer = ByteBuffer.allocate(8 + s.length + 12).order(ByteOrder.LITTLE_ENDIAN);
        trailer.put(SKIPPABLE_MAGIC).putInt(s.length + 12).put(s).putInt(s.length);
        trailer.put("\u0089OTREND\n".getBytes(StandardCharsets.ISO_8859_1));
        out.write(trailer.array());
        out.close();
    }

    /** Closes and removes the file: a trace of a JVM that ran none of the application. */
    void discard() {
        abandon();
        try {
            Files.deleteIfExists(path);
        } catch (IOException ignored) {
            // a header-only file is left; `orion list` shows it as unfinished
        }
    }

    void abandon() {
        try {
            out.close();
        } catch (IOException ignored) {
            // nothing more to write
        }
    }
}
