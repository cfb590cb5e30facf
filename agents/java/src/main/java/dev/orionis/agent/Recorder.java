package dev.orionis.agent;

import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.URLConnection;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;

/** The recording side of the advice inlined into the application's methods: every call,
 * return and propagating exception goes to the process's trace and to the trace of the
 * test running on the thread. Public because instrumented classes call it. */
public final class Recorder {
    static final String VERSION = "0.1.0";
    /** Adaptive capture (spec 7.1): a function's first calls carry values, then one in EVERY. */
    private static final int FULL = 10;
    private static final int EVERY = 1000;
    private static final int MAX_FRAMES = 64;
    private static final StackTraceElement[] NO_TRACE = new StackTraceElement[0];
    /** Error mode's ring reads the clock at every 8th event of a lane (Lane.clock). */
    private static final int RING_CLOCK_EVERY = 8;

    static volatile Context context;
    static Trace process;
    private static Thread mainThread;
    private static final ThreadLocal<Lane> LANES = new ThreadLocal<>();
    /** Threads started and not yet running, with the lane of the thread that started them. */
    private static final Map<Thread, Lane> STARTED_BY = Collections.synchronizedMap(new WeakHashMap<>());
    /** HttpURLConnection requests sent (a connection is one request, its answer read once). */
    private static final Map<URLConnection, ClientRequest> REQUESTS = Collections.synchronizedMap(new WeakHashMap<>());
    private static volatile Trace.Failure failure;
    private static volatile Integer exitStatus;
    /** A test runner ends with the status of the failing tests it reported (JUnit's
     * ConsoleLauncher, which junit-platform-gradle-plugin runs, exits 1): their traces are
     * the failure, not the exit (a test's own System.exit is one). */
    private static volatile boolean exitOfTestRunner;
    private static volatile boolean mainDied;
    /** Every lane made, for error mode's window: a failure writes all their rings. */
    private static final List<Lane> ALL_LANES = new ArrayList<>();
    /** The first method the application called: the process trace's root. */
    private static volatile int rootFn = -1;

    private Recorder() {
    }

    static void start(Context c) {
        mainThread = Thread.currentThread();
        process = new Trace(c, null, c.settings.mode == Settings.Mode.ERROR);
        context = c;
        if (!process.windowed) {
            process.startFlushing();
        }
        process.leaveSidecar();
    }

    /** The current thread's lane, made on its first event (parented by its starter's). */
    static Lane lane() {
        Lane l = LANES.get();
        if (l == null) {
            Thread t = Thread.currentThread();
            l = new Lane(t, STARTED_BY.remove(t), context == null ? 0 : context.settings.ring,
                    process.windowed ? RING_CLOCK_EVERY : 1);
            LANES.set(l);
            synchronized (ALL_LANES) {
                ALL_LANES.add(l);
            }
        }
        return l;
    }

    /** An event goes into its lane's ring (for error mode and failing tests) and, in dev
     * and safe modes, into the process's file at once. */
    private static void emit(Lane l, byte kind, long now, int fn, int line, Object data) {
        l.keep(kind, now, fn, line, data);
        if (!process.windowed) {
            process.add(new Event(kind, now, l, fn, line, data));
        }
    }

    // --- called by the code the Weaver puts into instrumented methods ---

    /** The calling thread's lane, marked busy while the agent records on it (calls the agent
     * itself makes meanwhile are not recorded); null when nothing records or it is busy. */
    private static Lane claim(Context c) {
        if (c == null) {
            return null;
        }
        Lane l = lane();
        if (l.busy) {
            return null;
        }
        l.busy = true;
        return l;
    }

    /** A call begins. Near the stack's end the agent's own work may overflow it: that
     * overflow is swallowed (the call goes unrecorded), so that the StackOverflowError the
     * program sees is its own, thrown in its own frames. */
    public static void enter(int fn) {
        try {
            Lane l = claim(context);
            if (l == null) {
                return;
            }
            try {
                call(l, fn, null);
            } finally {
                l.busy = false;
            }
        } catch (StackOverflowError agentsOwn) {
            // see above
        }
    }

    /** `enter` with `this` and the arguments. */
    public static void enterWithValues(int fn, Object self, Object[] args) {
        try {
            Context c = context;
            Lane l = claim(c);
            if (l == null) {
                return;
            }
            try {
                Functions.Info info = Functions.get(fn);
                int n = ++info.calls;
                call(l, fn, n <= FULL || n % EVERY == 0 ? arguments(c, info, self, args) : null);
            } finally {
                l.busy = false;
            }
        } catch (StackOverflowError agentsOwn) {
            // see enter
        }
    }

    private static void call(Lane l, int fn, List<Object> args) {
        long now = l.clock();
        caught(l, now);
        l.push(fn << 1 | (args != null ? 1 : 0));
        if (rootFn < 0) {
            rootFn = fn;
        }
        emit(l, Event.CALL, now, fn, 0, args);
    }

    public static void exit(int fn) {
        try {
            Lane l = claim(context);
            if (l == null) {
                return;
            }
            try {
                long now = l.clock();
                caught(l, now);
                if (close(l, fn, now) >= 0) {
                    emit(l, Event.RETURN, now, fn, 0, Event.NO_VALUE);
                }
            } finally {
                l.busy = false;
            }
        } catch (StackOverflowError agentsOwn) {
            // see enter
        }
    }

    public static void exitWithValue(Object value, int fn) {
        try {
            Context c = context;
            Lane l = claim(c);
            if (l == null) {
                return;
            }
            try {
                long now = l.clock();
                caught(l, now);
                int entry = close(l, fn, now);
                if (entry >= 0) {
                    boolean valued = (entry & 1) != 0 && !Functions.get(fn).returnsVoid;
                    emit(l, Event.RETURN, now, fn, 0, valued ? c.values.capture(value, 0) : Event.NO_VALUE);
                }
            } finally {
                l.busy = false;
            }
        } catch (StackOverflowError agentsOwn) {
            // see enter
        }
    }

    /** The call `fn` ends by an exception: raised here (or in code not instrumented that it
     * called) when the lane has not seen it yet, then an unwind with the frame's arguments
     * (the innermost MAX_FRAMES frames', those a failure's stack keeps: an exception out of
     * deep recursion costs no more). A StackOverflowError unwinds with no stack trace read
     * and no value captured, and the agent's own overflow is swallowed: near the stack's
     * end, the program must see only its own error. */
    public static void unwind(Throwable thrown, int fn, Object self, Object[] args) {
        try {
            Context c = context;
            Lane l = claim(c);
            if (l == null) {
                return;
            }
            try {
                unwound(c, l, thrown, fn, self, args);
            } finally {
                l.busy = false;
            }
        } catch (StackOverflowError agentsOwn) {
            // the rest of this unwind is not recorded
        }
    }

    private static void unwound(Context c, Lane l, Throwable thrown, int fn, Object self, Object[] args) {
        long now = l.exactClock();
        Functions.Info info = Functions.get(fn);
        boolean overflow = thrown instanceof StackOverflowError;
        if (thrown != l.propagating) {
            l.propagating = thrown;
            l.trace = overflow ? NO_TRACE : thrown.getStackTrace();
            l.traceIndex = 0;
            l.unwound.clear();
            int line = lineIn(l, info, false);
            emit(l, Event.RAISED, now, fn, line, describe(c, thrown));
        }
        int line = lineIn(l, info, true);
        boolean valued = !overflow && c.settings.mode != Settings.Mode.SAFE && l.unwound.size() < MAX_FRAMES;
        List<Object> locals = valued ? arguments(c, info, self, args) : null;
        if (close(l, fn, now) >= 0) {
            emit(l, Event.UNWIND, now, fn, line, locals);
        }
        if (l.unwound.size() < MAX_FRAMES) {
            l.unwound.add(new Object[] {fn, line, locals});
        }
    }

    /** java.net.http.HttpClient sends `request` (HttpClientImpl.sendAsync, which send calls
     * too): it goes out with a W3C traceparent header (see traceparent) unless it has one,
     * and its clock starts; `sent` or `sentSync` records it once answered. Through
     * reflection: the agent is on the boot class path, java.net.http on the platform
     * loader's. A JDK without HttpRequest.newBuilder(request, filter) (before 16) sends it
     * unchanged and unrecorded. */
    public static Object outgoing(Object request) {
        Context c = context;
        Lane l = claim(c);
        if (l == null) {
            return request;
        }
        l.sending = null; // a sendAsync that threw left its request unanswered
        try {
            Class<?> type = Class.forName("java.net.http.HttpRequest", false, request.getClass().getClassLoader());
            Object headers = type.getMethod("headers").invoke(request);
            java.util.Optional<?> own = (java.util.Optional<?>) headers.getClass()
                    .getMethod("firstValue", String.class).invoke(headers, "traceparent");
            Object traced = request;
            String traceparent;
            if (own.isPresent()) {
                traceparent = (String) own.get();
            } else {
                traceparent = traceparent(l);
                Object copy = type.getMethod("newBuilder", type, java.util.function.BiPredicate.class)
                        .invoke(null, request, new java.util.function.BiPredicate<String, String>() {
                            @Override
                            public boolean test(String name, String value) {
                                return true;
                            }
                        });
                Class<?> builder = Class.forName("java.net.http.HttpRequest$Builder", false, type.getClassLoader());
                builder.getMethod("header", String.class, String.class).invoke(copy, "traceparent", traceparent);
                traced = builder.getMethod("build").invoke(copy);
            }
            ClientRequest sending = new ClientRequest(traceparent);
            sending.method = String.valueOf(type.getMethod("method").invoke(request));
            sending.url = c.secrets.scrub(String.valueOf(type.getMethod("uri").invoke(request)));
            l.sending = sending;
            return traced;
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            return request;
        } finally {
            l.busy = false;
        }
    }

    /** HttpClientImpl.sendAsync returns `future`: a request sent with sendAsync is recorded
     * when its answer comes, on the thread that completes the future; one that
     * HttpClient.send waits for is left to sentSync, on the sending thread. */
    public static Object sent(Object future) {
        if (context == null) {
            return future;
        }
        Lane l = lane();
        ClientRequest request = l.sending;
        if (request == null || l.sendingSync > 0) {
            return future;
        }
        l.sending = null;
        ((java.util.concurrent.CompletableFuture<?>) future).whenComplete(new java.util.function.BiConsumer<Object, Throwable>() {
            @Override
            public void accept(Object response, Throwable thrown) {
                answered(request, response, thrown instanceof java.util.concurrent.CompletionException
                        && thrown.getCause() != null ? thrown.getCause() : thrown);
            }
        });
        return future;
    }

    /** HttpClient.send begins on this thread (its sendAsync is recorded as it returns). */
    public static void sendingSync() {
        if (context != null) {
            lane().sendingSync++;
        }
    }

    /** HttpClient.send returned `response` (or threw `thrown`). */
    public static void sentSync(Throwable thrown, Object response) {
        if (context == null) {
            return;
        }
        Lane l = lane();
        l.sendingSync--;
        ClientRequest request = l.sending;
        l.sending = null;
        if (request != null) {
            answered(request, response, thrown);
        }
    }

    /** An HttpClient request's answer (or failure) came: an `http.client` event with its
     * status and duration, on the lane of the thread that has the answer. */
    private static void answered(ClientRequest request, Object response, Throwable thrown) {
        Context c = context;
        Lane l = claim(c);
        if (l == null) {
            return;
        }
        try {
            Integer status = null;
            if (response != null) {
                status = (Integer) Class.forName("java.net.http.HttpResponse", false, response.getClass().getClassLoader())
                        .getMethod("statusCode").invoke(response);
            }
            recordClient(l, c, request, status, thrown);
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            // the program's request matters more than its record
        } finally {
            l.busy = false;
        }
    }

    /** HttpURLConnection.connect, getOutputStream or getInputStream begins (the last two
     * close the request to new headers before they connect): the request goes out with a
     * W3C traceparent header unless it has one, and its clock starts. */
    public static void connecting(Object connection) {
        if (context == null) {
            return;
        }
        URLConnection request = (URLConnection) connection;
        try {
            String traceparent = request.getRequestProperty("traceparent");
            if (traceparent == null) {
                traceparent = traceparent(lane());
                request.setRequestProperty("traceparent", traceparent);
            }
            REQUESTS.putIfAbsent(request, new ClientRequest(traceparent));
        } catch (IllegalStateException connected) {
            // connected already: its headers have gone
        }
    }

    /** HttpURLConnection.getInputStream returned (or threw `thrown`): the answer is in, and
     * the request becomes an `http.client` event with its status and duration. */
    public static void answered(Throwable thrown, Object connection) {
        Context c = context;
        Lane l = claim(c);
        if (l == null) {
            return; // also the getInputStream that getResponseCode calls below
        }
        try {
            ClientRequest sent = REQUESTS.get(connection);
            if (sent == null || sent.answered) {
                return; // recorded already: getInputStream is called again after the answer
            }
            sent.answered = true;
            HttpURLConnection request = (HttpURLConnection) connection;
            Integer status;
            try {
                status = request.getResponseCode();
            } catch (IOException e) {
                status = null;
            }
            sent.method = request.getRequestMethod();
            sent.url = c.secrets.scrub(String.valueOf(request.getURL()));
            recordClient(l, c, sent, status == null || status < 0 ? null : status, thrown);
        } catch (RuntimeException | LinkageError e) {
            // the program's request matters more than its record
        } finally {
            l.busy = false;
        }
    }

    /** A request sent, answered with `status` (null if none came, then `thrown` says why). */
    private static void recordClient(Lane l, Context c, ClientRequest request, Integer status, Throwable thrown) {
        Map<String, Object> attrs = new LinkedHashMap<>();
        attrs.put("method", request.method);
        attrs.put("url", request.url);
        attrs.put("status", status);
        attrs.put("duration_ns", System.nanoTime() - request.since);
        attrs.put("traceparent", request.traceparent);
        if (thrown != null && status == null) {
            attrs.put("error", describe(c, thrown)[0]);
        }
        emit(l, Event.SPAN, l.exactClock(), 0, 0, new Object[] {"http.client", attrs});
    }

    /** A request sent over HTTP: the traceparent it went with, when, what (known by its
     * answer for HttpURLConnection) and whether its answer is recorded. */
    static final class ClientRequest {
        final String traceparent;
        final long since = System.nanoTime();
        String method;
        String url;
        volatile boolean answered;

        ClientRequest(String traceparent) {
            this.traceparent = traceparent;
        }
    }

    /** HttpServlet.service (javax or jakarta) starts serving `request` on this thread (the
     * locals `served` gets come here too). */
    public static void serving(Object servlet, Object request, Object response) {
        beginServing(servlet, request);
    }

    /** HttpServlet.service returned (or threw `thrown`). */
    public static void served(Throwable thrown, Object servlet, Object request, Object response) {
        endServing(thrown, servlet, request, response);
    }

    /** com.sun.net.httpserver's `exchange` starts through the application's filters and
     * handler on this thread (ServerImpl.Exchange.LinkHandler.handle). */
    public static void exchanging(Object exchange) {
        beginServing(null, exchange);
    }

    /** The application's filters and handler are done with `exchange` (or threw `thrown`). */
    public static void exchanged(Throwable thrown, Object exchange) {
        endServing(thrown, null, exchange, null);
    }

    /** A request begins to be served on this thread: an HttpServlet's (`servlet` not null)
     * or com.sun.net.httpserver's exchange; the traceparent it came with is read now, so
     * that the requests sent while serving it go on in the caller's trace. */
    private static void beginServing(Object servlet, Object request) {
        if (context == null) {
            return;
        }
        Lane l = lane();
        String received = null;
        if (!l.busy) {
            l.busy = true;
            try {
                if (servlet != null) {
                    received = (String) servletApi(servlet, "HttpServletRequest").getMethod("getHeader", String.class)
                            .invoke(request, "traceparent");
                } else {
                    Class<?> exchanges = exchangeApi(request);
                    Object headers = exchanges.getMethod("getRequestHeaders").invoke(request);
                    received = (String) Class.forName("com.sun.net.httpserver.Headers", false, exchanges.getClassLoader())
                            .getMethod("getFirst", String.class).invoke(headers, "traceparent");
                }
            } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
                // served as a request without one
            } finally {
                l.busy = false;
            }
        }
        l.serving.push(new Served(received));
    }

    /** The request served on this thread is done: an `http.server` event with its method,
     * URL (path and query, secrets redacted), status, duration, the traceparent it came
     * with and, when that is valid, its parent span. Through the APIs' interfaces, by
     * reflection: the container's classes are not the agent's. */
    private static void endServing(Throwable thrown, Object servlet, Object request, Object response) {
        Context c = context;
        if (c == null) {
            return;
        }
        Lane l = lane();
        Served served = l.serving.poll();
        if (served == null || l.busy) {
            return;
        }
        l.busy = true;
        try {
            Map<String, Object> attrs = new LinkedHashMap<>();
            if (servlet != null) {
                Class<?> requests = servletApi(servlet, "HttpServletRequest");
                Object query = requests.getMethod("getQueryString").invoke(request);
                attrs.put("method", requests.getMethod("getMethod").invoke(request));
                attrs.put("url", c.secrets.scrub(requests.getMethod("getRequestURI").invoke(request)
                        + (query != null ? "?" + query : "")));
                // an exception leaving service becomes the container's 500 after this
                attrs.put("status", thrown != null ? 500
                        : servletApi(servlet, "HttpServletResponse").getMethod("getStatus").invoke(response));
            } else {
                Class<?> exchanges = exchangeApi(request);
                attrs.put("method", exchanges.getMethod("getRequestMethod").invoke(request));
                attrs.put("url", c.secrets.scrub(String.valueOf(exchanges.getMethod("getRequestURI").invoke(request))));
                int status = (Integer) exchanges.getMethod("getResponseCode").invoke(request);
                attrs.put("status", status > 0 ? status : null); // -1: no answer was sent
            }
            attrs.put("duration_ns", System.nanoTime() - served.since);
            attrs.put("traceparent", served.received);
            Map<String, Object> parent = null;
            if (served.parentTrace != null) {
                parent = new LinkedHashMap<>();
                parent.put("trace_id", served.parentTrace);
                parent.put("span_id", served.parentSpan);
            }
            attrs.put("parent", parent);
            if (thrown != null) {
                attrs.put("error", describe(c, thrown)[0]);
            }
            emit(l, Event.SPAN, l.exactClock(), 0, 0, new Object[] {"http.server", attrs});
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            // the request served matters more than its record
        } finally {
            l.busy = false;
        }
    }

    /** The interface `name` of the servlet API (javax's or jakarta's) whose HttpServlet `servlet` is. */
    private static Class<?> servletApi(Object servlet, String name) throws ClassNotFoundException {
        Class<?> type = servlet.getClass();
        while (!type.getName().endsWith(".servlet.http.HttpServlet")) {
            type = type.getSuperclass();
        }
        return Class.forName(type.getPackageName() + "." + name, false, type.getClassLoader());
    }

    /** com.sun.net.httpserver.HttpExchange (its implementations are not exported). */
    private static Class<?> exchangeApi(Object exchange) throws ClassNotFoundException {
        return Class.forName("com.sun.net.httpserver.HttpExchange", false, exchange.getClass().getClassLoader());
    }

    /** A request served (an HttpServlet's or com.sun.net.httpserver's): when it began, the
     * traceparent it came with and, when that is a valid W3C one, the caller's trace id,
     * span id and flags. */
    static final class Served {
        /** W3C trace context: version, trace id, parent span id, flags (a later version may add fields). */
        private static final java.util.regex.Pattern TRACEPARENT = java.util.regex.Pattern.compile(
                "([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?");
        final long since = System.nanoTime();
        final String received;
        final String parentTrace;
        final String parentSpan;
        final String flags;

        Served(String received) {
            this.received = received;
            java.util.regex.Matcher m = TRACEPARENT.matcher(received == null ? "" : received.trim());
            boolean valid = m.matches() && !m.group(1).equals("ff") && !(m.group(1).equals("00") && m.group(5) != null)
                    && !m.group(2).equals("0".repeat(32)) && !m.group(3).equals("0".repeat(16));
            this.parentTrace = valid ? m.group(2) : null;
            this.parentSpan = valid ? m.group(3) : null;
            this.flags = valid ? m.group(4) : null;
        }
    }

    /** A W3C traceparent for a request this thread sends, with a new span id: while the
     * thread serves a request whose caller sent a valid traceparent, in the caller's trace
     * with its flags (W3C propagation); while it runs a test, in the test's trace (the one
     * written if it fails); else in the process's trace. */
    private static String traceparent(Lane l) {
        Served serving = l.serving.peek();
        if (serving != null && serving.parentTrace != null) {
            return "00-" + serving.parentTrace + "-" + Trace.spanId() + "-" + serving.flags;
        }
        Trace test = l.test;
        return "00-" + (test != null ? test.id : process.id) + "-" + Trace.spanId() + "-01";
    }

    /** A thread is being started (Thread.start): it will be a lane whose parent is ours. */
    public static void threadStarting(Thread child) {
        if (context != null && child != null) {
            STARTED_BY.put(child, lane());
        }
    }

    /** Runtime.exit: the status the process ends with, and where it was asked for. */
    public static void exiting(int status) {
        Context c = context;
        if (c == null || exitStatus != null) {
            return;
        }
        exitStatus = status;
        if (status != 0 && failure == null) {
            Lane l = lane();
            if (Tests.failedSoFar > 0 && l.test == null) {
                exitOfTestRunner = true;
                return;
            }
            Trace.Failure f = new Trace.Failure();
            f.kind = "exit";
            f.type = "System.exit";
            f.message = "exit status " + status;
            f.lane = l;
            f.frames = frames(l, null, Thread.currentThread().getStackTrace());
            failure = f;
        }
    }

    // --- failures ---

    /** An exception nobody caught ended a thread (the default handler calls this). */
    static void uncaught(Thread thread, Throwable e) {
        Context c = context;
        if (c == null) {
            return;
        }
        Lane l = lane();
        l.busy = true;
        try {
            Trace.Failure f = failureOf(c, l, e, "uncaught");
            f.crash = true;
            f.detail.put("thread", thread.getName());
            if (failure == null || "exit".equals(failure.kind)) {
                failure = f;
            }
            if (thread == mainThread) {
                mainDied = true;
            }
        } finally {
            l.busy = false;
        }
    }

    static Trace.Failure failureOf(Context c, Lane l, Throwable e, String kind) {
        Trace.Failure f = new Trace.Failure();
        f.kind = kind;
        f.lane = l;
        if (e == null) {
            f.type = "test failed";
            f.message = "";
            return f;
        }
        String[] what = describe(c, e);
        f.type = what[0];
        f.message = what[1];
        f.frames = frames(l, e, e.getStackTrace());
        return f;
    }

    /** A failure's stack, outermost first (spec 4.6), the innermost MAX_FRAMES frames; the
     * frames the exception unwound carry their arguments. */
    private static List<Object[]> frames(Lane l, Throwable e, StackTraceElement[] trace) {
        List<Object[]> unwound = e != null && e == l.propagating ? new ArrayList<>(l.unwound) : new ArrayList<>();
        List<Object[]> frames = new ArrayList<>();
        for (StackTraceElement element : trace) {
            String cls = element.getClassName();
            if (cls.startsWith("dev.orionis.agent.") || e == null && (cls.equals("java.lang.Thread")
                    || cls.equals("java.lang.Runtime") || cls.equals("java.lang.System"))) {
                continue;
            }
            if (frames.size() == MAX_FRAMES) {
                break;
            }
            int fn = Functions.ofFrame(element);
            Object locals = null;
            if (fn >= 0) {
                for (int i = 0; i < unwound.size(); i++) {
                    if ((Integer) unwound.get(i)[0] == fn) {
                        locals = unwound.remove(i)[2];
                        break;
                    }
                }
            }
            int line = element.getLineNumber();
            frames.add(new Object[] {fn >= 0 ? (Object) fn : element, line > 0 ? line : 0, locals});
        }
        Collections.reverse(frames);
        return frames;
    }

    /** Ends the process's trace (a shutdown hook): with the status System.exit gave, 1 when
     * an exception ended the main thread, else 0. */
    static void shutdown() {
        Context c = context;
        if (c == null) {
            return;
        }
        context = null;
        Integer status = exitStatus != null ? exitStatus : mainDied ? 1 : 0;
        List<Event> window = new ArrayList<>();
        if (process.windowed) {
            synchronized (ALL_LANES) {
                for (Lane lane : ALL_LANES) {
                    window.addAll(lane.since(0));
                }
            }
            window.sort((a, b) -> Long.compare(a.nanos, b.nanos)); // stable: a lane keeps its order
        } else {
            unwindOpenCalls();
        }
        if (exitOfTestRunner && process.windowed) {
            status = 0; // error mode writes no trace of its own for it
        }
        int root = rootFn;
        process.finish(failure, status, window, root < 0 ? null : Functions.get(root).qualifiedName());
        process.removeSidecar();
    }

    /** The JVM exits (System.exit inside calls, daemon threads still running): each lane's
     * calls still open end with an unwind at this instant, so that an `ok` trace has no
     * open call left (spec 6.2). Other threads may still run: the agent records no more. */
    private static void unwindOpenCalls() {
        long now = System.nanoTime();
        synchronized (ALL_LANES) {
            for (Lane lane : ALL_LANES) {
                for (int at = lane.depth - 1; at >= 0; at--) {
                    process.add(new Event(Event.UNWIND, now, lane, lane.stack[at] >> 1, 0, null));
                }
            }
        }
    }

    // --- helpers ---

    /** The lane's innermost open call is `fn`'s: closes it (and the calls above it that an
     * exception left open: constructors have no exit advice for exceptions). Returns the
     * stack entry, or -1 when `fn` has no open call. */
    private static int close(Lane l, int fn, long now) {
        int at = l.depth - 1;
        while (at >= 0 && l.stack[at] >> 1 != fn) {
            at--;
        }
        if (at < 0) {
            return -1;
        }
        while (l.depth - 1 > at) {
            int abandoned = l.stack[--l.depth] >> 1;
            emit(l, Event.UNWIND, now, abandoned, 0, null);
        }
        return l.stack[--l.depth];
    }

    /** A call after an exception unwound some of the lane's calls: the frame now innermost
     * caught it. */
    private static void caught(Lane l, long now) {
        Throwable t = l.propagating;
        if (t == null) {
            return;
        }
        l.propagating = null;
        if (l.depth > 0) {
            emit(l, Event.CAUGHT, now, l.stack[l.depth - 1] >> 1, 0, describe(context, t));
        }
    }

    private static String[] describe(Context c, Throwable t) {
        String message;
        try {
            message = t.getMessage();
        } catch (RuntimeException e) {
            message = "<getMessage raised " + e.getClass().getName() + ">";
        }
        return new String[] {t.getClass().getName(), message == null ? "" : c.secrets.scrub(message)};
    }

    /** The line `info`'s frame was at in the propagating exception's stack trace (its next
     * frame there when `advance`, so that recursion finds each frame in turn), else 0. */
    private static int lineIn(Lane l, Functions.Info info, boolean advance) {
        StackTraceElement[] trace = l.trace;
        for (int i = l.traceIndex; i < trace.length; i++) {
            if (trace[i].getMethodName().equals(info.name) && trace[i].getClassName().equals(info.className)) {
                if (advance) {
                    l.traceIndex = i + 1;
                }
                return Math.max(0, trace[i].getLineNumber());
            }
        }
        return 0;
    }

    /** `this` and the arguments by name, as flat pairs. */
    private static List<Object> arguments(Context c, Functions.Info info, Object self, Object[] args) {
        List<Object> pairs = new ArrayList<>(2 + 2 * (args == null ? 0 : args.length));
        if (self != null) {
            pairs.add("this");
            pairs.add(c.values.capture(self, 0));
        }
        for (int i = 0; args != null && i < args.length; i++) {
            String name = i < info.parameters.length && info.parameters[i] != null ? info.parameters[i] : "arg" + i;
            pairs.add(name);
            pairs.add(c.values.named(name, args[i]));
        }
        return pairs;
    }
}
