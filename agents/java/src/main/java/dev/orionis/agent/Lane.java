package dev.orionis.agent;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/** A thread's recording state: its lane (name, parent), its stack of open instrumented
 * calls, the exception propagating through them, the failing test it may be running, and
 * the ring of its recent events: kept in plain arrays, without a lock or an object per
 * event, so that error mode costs little; a failure writes them out (spec 6.3). */
final class Lane {
    private static final int FIRST_RING = 256;

    final long threadId;
    final String name;
    /** `thread`, or `virtual thread` for a JDK 21+ virtual thread. */
    final String kind;
    final Lane parent;
    /** True while the agent itself runs on this thread (capturing a value calls toString). */
    boolean busy;
    int[] stack = new int[64];
    int depth;
    /** The exception unwinding the lane's calls, until a call catches it. */
    Throwable propagating;
    /** Its stack trace, read once (each getStackTrace is a copy). */
    StackTraceElement[] trace;
    /** Where in its stack trace the last unwound frame was. */
    int traceIndex;
    /** The frames the propagating exception left, innermost first: {fn, line, locals}. */
    final List<Object[]> unwound = new ArrayList<>();
    /** The trace of the test running on this thread, if any, and where its events begin. */
    Trace test;
    long testFrom;
    /** Its framework reported it failed (JUnit 4 and TestNG say so before it ends), and with what. */
    boolean testFailed;
    Throwable testFailure;
    /** The requests HttpServlet.service calls open on this thread serve (a forward nests one). */
    final ArrayDeque<Recorder.Served> serving = new ArrayDeque<>();
    /** The HttpClient request this thread is sending: set as HttpClientImpl.sendAsync
     * begins, taken as it returns (or, under a synchronous send, as send returns). */
    Recorder.ClientRequest sending;
    /** HttpClient.send calls open on this thread: their sendAsync is recorded as send returns. */
    int sendingSync;

    private final int ringMax;
    private long[] times = new long[FIRST_RING];
    private int[] codes = new int[FIRST_RING]; // fn << 3 | kind
    private int[] lines = new int[FIRST_RING];
    private Object[] data = new Object[FIRST_RING];
    /** Events kept so far; the ring holds the last `times.length` of them. */
    long kept;
    /** Where the next event goes (kept modulo the ring's size, without a division). */
    private int next;

    /** Events per clock reading (1: every event has its own time). */
    private final int clockEvery;
    private int untilRead;
    private long lastRead;

    Lane(Thread thread, Lane parent, int ringMax, int clockEvery) {
        this.threadId = thread.getId();
        this.name = thread.getName();
        this.kind = thread.getClass().getName().equals("java.lang.VirtualThread") ? "virtual thread" : "thread";
        this.parent = parent;
        this.ringMax = Math.max(ringMax, FIRST_RING);
        this.clockEvery = clockEvery;
    }

    /** The time of an event: System.nanoTime() at every clockEvery-th event of the lane,
     * and the events between share the last reading. Error mode's ring reads it at every
     * 8th event: a reading costs 40-50 ns here, as much as the rest of recording a call
     * (the Node.js agent does the same). */
    long clock() {
        if (--untilRead <= 0) {
            untilRead = clockEvery;
            lastRead = System.nanoTime();
        }
        return lastRead;
    }

    /** The time now, read from the clock (an exception: rare, and worth its exact time). */
    long exactClock() {
        untilRead = clockEvery;
        return lastRead = System.nanoTime();
    }

    void push(int fn) {
        if (depth == stack.length) {
            stack = java.util.Arrays.copyOf(stack, depth * 2);
        }
        stack[depth++] = fn;
    }

    /** Keeps an event; the ring grows until it reaches its size, then wraps. */
    void keep(byte kind, long nanos, int fn, int line, Object value) {
        int size = times.length;
        if (kept == size && size < ringMax) {
            int grown = Math.min(ringMax, size * 2);
            times = java.util.Arrays.copyOf(times, grown);
            codes = java.util.Arrays.copyOf(codes, grown);
            lines = java.util.Arrays.copyOf(lines, grown);
            data = java.util.Arrays.copyOf(data, grown);
            size = grown;
            next = (int) kept;
        }
        int at = next;
        next = at + 1 == size ? 0 : at + 1;
        times[at] = nanos;
        codes[at] = fn << 3 | kind;
        lines[at] = line;
        data[at] = value;
        kept++;
    }

    /** The kept events from the `from`-th on (those the ring still holds). Read without a
     * lock, also while another thread's lane goes on: its newest events may be missed. */
    List<Event> since(long from) {
        long[] t = times;
        int[] c = codes;
        int[] ln = lines;
        Object[] d = data;
        long end = kept;
        int size = Math.min(Math.min(t.length, c.length), Math.min(ln.length, d.length));
        List<Event> events = new ArrayList<>();
        for (long k = Math.max(from, end - size); k < end; k++) {
            int at = (int) (k % size);
            events.add(new Event((byte) (c[at] & 7), t[at], this, c[at] >>> 3, ln[at], d[at]));
        }
        return events;
    }
}
