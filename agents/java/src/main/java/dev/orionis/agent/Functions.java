package dev.orionis.agent;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** The methods the agent instrumented, numbered as they are instrumented; the advice
 * inlined in a method carries its number as a constant. */
final class Functions {
    /** One instrumented method: where it is, and what its arguments are called. */
    static final class Info {
        final String className;
        final String name;
        final String file;
        final int line;
        final String[] parameters;
        final boolean returnsVoid;
        /** Calls seen so far, for adaptive capture (spec 7.1); races only blur the count. */
        int calls;

        Info(String className, String name, String file, int line, String[] parameters, boolean returnsVoid) {
            this.className = className;
            this.name = name;
            this.file = file;
            this.line = line;
            this.parameters = parameters;
            this.returnsVoid = returnsVoid;
        }

        String qualifiedName() {
            return simpleClass() + "." + name;
        }

        String simpleClass() {
            return className.substring(className.lastIndexOf('.') + 1);
        }

        String module() {
            int dot = className.lastIndexOf('.');
            return dot < 0 ? "" : className.substring(0, dot);
        }
    }

    private static final List<Info> ALL = new ArrayList<>();
    private static final Map<String, Integer> BY_FRAME = new HashMap<>();

    private Functions() {
    }

    static synchronized int register(Info info) {
        ALL.add(info);
        BY_FRAME.putIfAbsent(info.className + "#" + info.name, ALL.size() - 1);
        return ALL.size() - 1;
    }

    static synchronized Info get(int id) {
        return ALL.get(id);
    }

    /** The instrumented method a stack trace element names (the first of its overloads),
     * or -1 when the frame is code the agent did not instrument. */
    static synchronized int ofFrame(StackTraceElement frame) {
        Integer id = BY_FRAME.get(frame.getClassName() + "#" + frame.getMethodName());
        return id == null ? -1 : id;
    }
}
