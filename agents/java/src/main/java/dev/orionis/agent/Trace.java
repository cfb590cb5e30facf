package dev.orionis.agent;

import java.io.File;
import java.io.FileOutputStream;
import java.io.FileWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.LocalDateTime;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** One trace, one file: the process's, or a failing test's (spec section 8). Its events are
 * written as they happen (dev and safe modes), or kept in a ring and written only when
 * something fails (error mode, and every test's trace: spec 6.3). */
final class Trace {
    /** Trace ids need to be unique, not unguessable: SecureRandom's seeding costs start-up time. */
    private static final SplittableRandom RANDOM = new SplittableRandom();

    /** What a trace ends with when something went wrong. */
    static final class Failure {
        String status = "failed";
        String kind;       // uncaught, exit, test
        String type;
        String message;
        Lane lane;
        /** Outermost first: {Integer fn or StackTraceElement, Integer line, locals or null}. */
        List<Object[]> frames;
        boolean crash;
        Map<String, Object> detail = new LinkedHashMap<>();
    }

    final String id;
    final long startNs;
    final long startNanos;
    final String name;
    /** Half the bound on what a kill loses: a frame waits at most this long, plus scheduling. */
    private static final long FLUSH_MS = 50;
    private final Context context;
    /** Written at its end from the lanes' rings (spec 6.3): its header says so. */
    final boolean windowed;
    private TraceFile file;
    /** Held while frames are written, so that they reach the file in order. */
    private final Object output = new Object();
    private boolean openFailed;
    private volatile boolean closed;
    private String root;
    Map<String, Object> test;
    String processTrace;
    private File sidecar;

    Trace(Context context, String name, boolean windowed) {
        this.context = context;
        this.name = name;
        Instant now = Instant.now();
        startNs = now.getEpochSecond() * 1_000_000_000L + now.getNano();
        startNanos = System.nanoTime();
        synchronized (RANDOM) {
            id = digits(Long.toHexString(RANDOM.nextLong()), 16) + digits(Long.toHexString(RANDOM.nextLong() | 1), 16);
        }
        this.windowed = windowed;
    }

    /** A new 64-bit span id, 16 hex digits (W3C traceparent). */
    static String spanId() {
        synchronized (RANDOM) {
            return digits(Long.toHexString(RANDOM.nextLong() | 1), 16);
        }
    }

    /** `digits` left-padded with zeros to `width` (String.format and DateTimeFormatter
     * would cost every JVM start-up time). */
    private static String digits(String digits, int width) {
        StringBuilder out = new StringBuilder(width);
        for (int i = digits.length(); i < width; i++) {
            out.append('0');
        }
        return out.append(digits).toString();
    }

    /** A file name's time stamp: yyyyMMddTHHmmss and microseconds, UTC. */
    static String stamp(long epochNs) {
        LocalDateTime t = LocalDateTime.ofEpochSecond(Math.floorDiv(epochNs, 1_000_000_000L),
                (int) Math.floorMod(epochNs, 1_000_000_000L), ZoneOffset.UTC);
        return digits(Integer.toString(t.getYear()), 4) + digits(Integer.toString(t.getMonthValue()), 2)
                + digits(Integer.toString(t.getDayOfMonth()), 2) + "T" + digits(Integer.toString(t.getHour()), 2)
                + digits(Integer.toString(t.getMinute()), 2) + digits(Integer.toString(t.getSecond()), 2)
                + digits(Integer.toString(t.getNano() / 1000), 6);
    }

    /** Dev and safe modes (spec 3, docs/security.md): the file and its header are on disk
     * from the start, and a daemon thread writes what is buffered every FLUSH_MS, and at
     * once when a batch reaches 64 KiB, so that a kill -9 loses at most ~100 ms of events.
     * The program's threads only pack records under the trace's lock; compressing and
     * writing happen on that thread, outside it. */
    synchronized void startFlushing() {
        if (!open()) {
            return;
        }
        Thread flusher = new Thread(new Runnable() { // no lambda: see Redactor
            @Override
            public void run() {
                try {
                    while (!closed) {
                        synchronized (Trace.this) {
                            Trace.this.wait(FLUSH_MS); // add() wakes it when a frame is full
                        }
                        flushBuffered();
                    }
                } catch (InterruptedException stopped) {
                    // the JVM is ending
                }
            }
        }, "orion-flush");
        flusher.setDaemon(true);
        flusher.start();
    }

    /** Writes the frames packed so far: taken under the trace's lock, written outside it
     * (under `output`, so that they reach the file in order, before finish's). */
    private void flushBuffered() {
        synchronized (output) {
            List<byte[]> frames;
            synchronized (this) {
                if (closed || file == null) {
                    return;
                }
                try {
                    frames = file.takeFrames();
                } catch (IOException | RuntimeException failure) {
                    giveUp(failure);
                    return;
                }
            }
            try {
                file.writeFrames(frames);
            } catch (IOException | RuntimeException failure) {
                synchronized (this) {
                    giveUp(failure);
                }
            }
        }
    }

    private void giveUp(Exception failure) {
        context.warn("cannot write " + file.path + ": " + failure);
        file.abandon();
        openFailed = true;
        closed = true;
    }

    /** Writes `e` at once (a trace that is not windowed). */
    synchronized void add(Event e) {
        if (closed) {
            return;
        }
        if (open() && write(e)) {
            notifyAll(); // a frame is full: the flushing thread writes it now
        }
    }

    /** Packs `e`; true when that filled a frame. */
    private boolean write(Event e) {
        if (root == null && e.kind == Event.CALL) {
            root = Functions.get(e.fn).qualifiedName();
        }
        try {
            return file.write(e);
        } catch (IOException | RuntimeException failure) {
            context.warn("cannot write " + file.path + ": " + failure);
            file.abandon();
            openFailed = true;
            return false;
        } catch (StackOverflowError overflow) {
            // the program's stack ran out halfway through a record: the file keeps the
            // frames written before it (an incomplete trace), nothing more (flags first:
            // closing the file may overflow too)
            openFailed = true;
            closed = true;
            file.abandon();
            return false;
        }
    }

    private boolean open() {
        if (file != null) {
            return true;
        }
        if (openFailed) {
            return false;
        }
        String stamp = stamp(startNs);
        try {
            file = new TraceFile(context.settings.spool, stamp + "Z-" + id + ".otrace",
                    context.header(this), startNanos);
            return true;
        } catch (IOException | RuntimeException failure) {
            context.warn("cannot write a trace into " + context.settings.spool + ": " + failure);
            openFailed = true;
            return false;
        }
    }

    /** Ends the trace: nothing more is recorded in it. A windowed trace is written only if
     * it failed, with the events of `window` (oldest first); a trace that saw no call of
     * the application (a JVM like Maven's own) is not written, even when it fails. */
    String finish(Failure failure, Integer exitCode, List<Event> window, String rootName) {
        synchronized (output) { // after the flushing thread's frames
            return finishWriting(failure, exitCode, window, rootName);
        }
    }

    private synchronized String finishWriting(Failure failure, Integer exitCode, List<Event> window, String rootName) {
        if (closed) {
            return null;
        }
        closed = true;
        boolean failed = failure != null || exitCode != null && exitCode != 0;
        if (rootName == null && root == null && test == null || windowed && !failed || !open()) {
            if (file != null) { // opened at the start, and nothing of the application ran
                file.discard();
            }
            return null;
        }
        if (rootName != null) {
            root = rootName;
        }
        for (Event e : window) {
            write(e);
        }
        try {
            if (failure != null && failure.lane != null) {
                writeFailure(failure);
            }
            file.finish(summary(failure, exitCode));
        } catch (IOException | RuntimeException problem) {
            context.warn("cannot finish " + file.path + ": " + problem);
            file.abandon();
            return null;
        }
        report(file.path.toString());
        return file.path.toString();
    }

    private void writeFailure(Failure f) throws IOException {
        long now = System.nanoTime();
        if (f.frames != null && !f.frames.isEmpty()) {
            file.stack(f.lane, now, f.kind, f.frames);
        }
        if (f.crash) {
            file.crash(f.lane, now, f.kind, f.type, f.message, f.detail);
        }
    }

    private Map<String, Object> summary(Failure failure, Integer exitCode) {
        Settings s = context.settings;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("trace_id", id);
        String status = failure != null ? failure.status : exitCode != null && exitCode != 0 ? "failed" : "ok";
        m.put("status", status);
        m.put("language", "java");
        m.put("mode", s.modeName());
        m.put("start_ns", startNs);
        m.put("duration_ns", file.maxT());
        m.put("command", context.argv);
        m.put("host", context.host);
        m.put("pid", context.pid);
        m.put("root", root);
        if (failure != null) {
            Map<String, Object> exc = new LinkedHashMap<>();
            exc.put("type", failure.type);
            exc.put("message", failure.message);
            if (failure.crash) {
                exc.put("kind", failure.kind);
            }
            m.put("exception", exc);
        } else if (exitCode != null && exitCode != 0) {
            Map<String, Object> exc = new LinkedHashMap<>();
            exc.put("type", "exit");
            exc.put("message", "exit status " + exitCode);
            m.put("exception", exc);
        } else {
            m.put("exception", null);
        }
        m.put("exit_code", exitCode);
        m.put("agent", "orion-java " + Recorder.VERSION);
        if (s.service != null) {
            m.put("service", s.service);
        }
        if (name != null) {
            m.put("name", name);
        }
        if (test != null) {
            m.put("test", test);
        }
        if (processTrace != null) {
            m.put("process_trace", processTrace);
        }
        if (s.parentTrace != null) {
            Map<String, Object> parent = new LinkedHashMap<>();
            parent.put("trace_id", s.parentTrace);
            parent.put("span_id", s.parentSpan);
            m.put("parent", parent);
        }
        return m;
    }

    /** Under `orion run` / `orion test` ($ORION_REPORT), the process's trace leaves the
     * spool's `.<trace id>.<pid>.jvm`, holding the JVM's working directory (where a fatal
     * error's hs_err_pid<pid>.log goes), and reports it: a JVM that dies of a fatal error
     * runs no shutdown hook, so the file stays for orion to read the hs_err file back
     * (orion/runtimes/java.py); a JVM that exits removes it (removeSidecar). */
    void leaveSidecar() {
        if (context.settings.report == null) {
            return;
        }
        File dir = new File(context.settings.spool);
        File path = new File(dir, "." + id + "." + context.pid + ".jvm");
        dir.mkdirs();
        try (FileOutputStream out = new FileOutputStream(path)) {
            out.write((System.getProperty("user.dir") + "\n").getBytes(StandardCharsets.UTF_8));
        } catch (IOException | RuntimeException e) {
            return; // no read-back of a fatal error then
        }
        sidecar = path;
        report(path.getPath());
    }

    void removeSidecar() {
        if (sidecar != null) {
            sidecar.delete();
        }
    }

    /** Appends a written trace's path to $ORION_REPORT, as every agent does. */
    private void report(String path) {
        if (context.settings.report == null) {
            return;
        }
        try (FileWriter w = new FileWriter(context.settings.report, true)) {
            w.write(path + "\n");
        } catch (IOException ignored) {
            // orion run still finds the new file in the spool
        }
    }
}
