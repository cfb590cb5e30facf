package dev.orionis.agent;

import java.util.List;

/** One timed record before it is written: at once (dev, safe), or when an error-mode ring
 * is written out after a failure. */
final class Event {
    static final byte CALL = 0;
    static final byte RETURN = 1;
    static final byte UNWIND = 2;
    static final byte RAISED = 3;
    static final byte CAUGHT = 4;
    /** A span-like event (the spec's event record, type 10): data is {kind, attrs map}. */
    static final byte SPAN = 5;

    /** The return value of a call whose value was not captured (distinct from null). */
    static final Object NO_VALUE = new Object();

    final byte kind;
    final long nanos; // System.nanoTime()
    final Lane lane;
    final int fn;
    final int line;
    /** CALL: argument pairs or null (not captured); RETURN: the value or NO_VALUE; UNWIND:
     * locals pairs or null; RAISED, CAUGHT: {type, message}; SPAN: {kind, attrs}. */
    final Object data;

    Event(byte kind, long nanos, Lane lane, int fn, int line, Object data) {
        this.kind = kind;
        this.nanos = nanos;
        this.lane = lane;
        this.fn = fn;
        this.line = line;
        this.data = data;
    }

    @SuppressWarnings("unchecked")
    List<Object> pairs() {
        return (List<Object>) data;
    }
}
