package dev.orionis.agent;

import java.util.List;

/** A captured value that is not a plain scalar (spec section 7): a tagged node, kept as Java
 * objects until it is written (its type name becomes a string id of the file it lands in). */
final class Node {
    static final int TEXT = 0;
    static final int SEQ = 1;
    static final int MAP = 2;
    static final int OBJECT = 3;
    static final int REDACTED = 4;
    static final int ELIDED = 5;
    static final int ERROR = 6;

    final int kind;
    final String type;
    /** TEXT, ERROR: a String; SEQ: the items; MAP: keys and values in turn; OBJECT: names
     * and values in turn; ELIDED: the length or null; REDACTED: null. */
    final Object payload;
    /** The original length when the node was shortened, else -1. */
    final int cut;

    Node(int kind, String type, Object payload, int cut) {
        this.kind = kind;
        this.type = type;
        this.payload = payload;
        this.cut = cut;
    }

    static Node text(String type, String text) {
        return new Node(TEXT, type, text, -1);
    }

    static Node redacted(String type) {
        return new Node(REDACTED, type, null, -1);
    }

    @SuppressWarnings("unchecked")
    List<Object> items() {
        return (List<Object>) payload;
    }
}
