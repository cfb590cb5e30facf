package dev.orionis.agent;

import java.util.ArrayList;
import java.util.List;

/** A thread's recording state: its lane (name, parent), its stack of open instrumented
 * calls, the exception propagating through them, and the failing test it may be running. */
final class Lane {
    final long threadId;
    final String name;
    final Lane parent;
    /** True while the agent itself runs on this thread (capturing a value calls toString). */
    boolean busy;
    int[] stack = new int[64];
    int depth;
    /** The exception unwinding the lane's calls, until a call catches it. */
    Throwable propagating;
    /** Where in its stack trace the last unwound frame was. */
    int traceIndex;
    /** The frames the propagating exception left, innermost first: {fn, line, locals}. */
    final List<Object[]> unwound = new ArrayList<>();
    /** The trace of the test running on this thread, if any. */
    Trace test;

    Lane(Thread thread, Lane parent) {
        this.threadId = thread.getId();
        this.name = thread.getName();
        this.parent = parent;
    }

    void push(int fn) {
        if (depth == stack.length) {
            stack = java.util.Arrays.copyOf(stack, depth * 2);
        }
        stack[depth++] = fn;
    }
}
