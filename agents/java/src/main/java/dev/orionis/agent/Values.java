package dev.orionis.agent;

import java.lang.reflect.Array;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/** Captures Java values shallowly, as every agent does (DESIGN.md): strings to 200
 * characters, containers to 50 items, depth 2, a bounded and exception-safe toString for
 * anything else, secret names redacted and secret words scrubbed. The caller keeps the
 * thread from recording while a toString runs (Recorder's busy flag), so an instrumented
 * toString is neither recorded nor re-entered. */
final class Values {
    static final int MAX_TEXT = 200;
    static final int MAX_ITEMS = 50;
    static final int MAX_DEPTH = 2;

    private final Redactor secrets;

    Values(Redactor secrets) {
        this.secrets = secrets;
    }

    /** A value captured under `name` (an argument, field or map key): redacted when the
     * name looks secret, and then its text is also scrubbed from free text. */
    Object named(String name, Object value) {
        return named(name, value, 0);
    }

    /** `named` for a value `depth` levels down (a map's entry under a string key). */
    private Object named(String name, Object value, int depth) {
        if (name != null && secrets.looksSecret(name)) {
            if (value instanceof CharSequence) {
                secrets.rememberSecret(value.toString());
            }
            return Node.redacted(value == null ? null : typeName(value.getClass()));
        }
        return capture(value, depth);
    }

    Object capture(Object value, int depth) {
        if (value == null || value instanceof Boolean) {
            return value;
        }
        try {
            return captureChecked(value, depth);
        } catch (Throwable failure) { // a toString or an iterator that throws
            return new Node(Node.ERROR, typeName(value.getClass()),
                    failure.getClass().getName() + ": " + failure.getMessage(), -1);
        }
    }

    private Object captureChecked(Object value, int depth) {
        if (value instanceof Integer || value instanceof Long || value instanceof Short || value instanceof Byte) {
            return ((Number) value).longValue();
        }
        if (value instanceof Double || value instanceof Float) {
            double d = ((Number) value).doubleValue();
            return Double.isFinite(d) ? (Object) d : Node.text(typeName(value.getClass()), Double.toString(d).toLowerCase());
        }
        if (value instanceof Character) {
            return value.toString();
        }
        if (value instanceof String) {
            return string((String) value, null);
        }
        Class<?> type = value.getClass();
        if (value instanceof Enum) {
            return Node.text(typeName(type), ((Enum<?>) value).name());
        }
        if (type.isArray() || value instanceof Collection || value instanceof Map) {
            if (depth >= MAX_DEPTH) {
                return new Node(Node.ELIDED, typeName(type), length(value), -1);
            }
            if (value instanceof Map) {
                return map((Map<?, ?>) value, depth);
            }
            return sequence(value, depth);
        }
        if (generated(type)) { // a mock: even its toString would count as a call on it
            return Node.text(typeName(type), type.getName() + "@" + Integer.toHexString(System.identityHashCode(value)));
        }
        if (value instanceof CharSequence || overridesToString(type)) {
            return text(typeName(type), String.valueOf(value));
        }
        if (depth >= MAX_DEPTH) {
            return new Node(Node.ELIDED, typeName(type), null, -1);
        }
        return object(value, type, depth);
    }

    /** A string cut to 200 characters, scrubbed; a redacted node when it holds a secret value. */
    private Object string(String s, String type) {
        if (secrets.holdsSecretValue(s)) {
            return Node.redacted(type == null ? "String" : type);
        }
        String clean = secrets.scrub(s);
        if (clean.length() > MAX_TEXT) {
            return new Node(Node.TEXT, type == null ? "String" : type, clean.substring(0, MAX_TEXT), clean.length());
        }
        return type == null ? clean : Node.text(type, clean);
    }

    private Object text(String type, String text) {
        Object captured = string(text, type);
        return captured instanceof Node ? captured : Node.text(type, (String) captured);
    }

    private Node sequence(Object value, int depth) {
        List<Object> items = new ArrayList<>();
        int total;
        if (value.getClass().isArray()) {
            total = Array.getLength(value);
            for (int i = 0; i < Math.min(total, MAX_ITEMS); i++) {
                items.add(capture(Array.get(value, i), depth + 1));
            }
        } else {
            Collection<?> c = (Collection<?>) value;
            total = c.size();
            Iterator<?> it = c.iterator();
            while (it.hasNext() && items.size() < MAX_ITEMS) {
                items.add(capture(it.next(), depth + 1));
            }
        }
        return new Node(Node.SEQ, typeName(value.getClass()), items, total > MAX_ITEMS ? total : -1);
    }

    private Node map(Map<?, ?> map, int depth) {
        List<Object> entries = new ArrayList<>();
        int total = map.size();
        for (Map.Entry<?, ?> e : map.entrySet()) {
            if (entries.size() >= 2 * MAX_ITEMS) {
                break;
            }
            Object key = e.getKey();
            entries.add(capture(key, depth + 1));
            entries.add(key instanceof String ? named((String) key, e.getValue(), depth + 1)
                    : capture(e.getValue(), depth + 1));
        }
        return new Node(Node.MAP, typeName(map.getClass()), entries, total > MAX_ITEMS ? total : -1);
    }

    /** An object without a toString of its own: its fields, read by reflection. */
    private Node object(Object value, Class<?> type, int depth) {
        List<Object> pairs = new ArrayList<>();
        int total = 0;
        for (Class<?> c = type; c != null && c != Object.class; c = c.getSuperclass()) {
            if (isJdk(c)) {
                return Node.text(typeName(type), type.getName() + "@" + Integer.toHexString(System.identityHashCode(value)));
            }
            for (Field f : c.getDeclaredFields()) {
                if (Modifier.isStatic(f.getModifiers()) || f.isSynthetic() && !f.getName().startsWith("arg$")) {
                    continue;
                }
                total++;
                if (pairs.size() >= 2 * MAX_ITEMS) {
                    continue;
                }
                f.setAccessible(true);
                Object fieldValue;
                try {
                    fieldValue = f.get(value);
                } catch (IllegalAccessException e) {
                    continue;
                }
                pairs.add(f.getName());
                pairs.add(secrets.looksSecret(f.getName()) ? named(f.getName(), fieldValue) : capture(fieldValue, depth + 1));
            }
        }
        return new Node(Node.OBJECT, typeName(type), pairs, total > MAX_ITEMS ? total : -1);
    }

    private static Integer length(Object value) {
        if (value.getClass().isArray()) {
            return Array.getLength(value);
        }
        return value instanceof Map ? ((Map<?, ?>) value).size() : ((Collection<?>) value).size();
    }

    private static boolean overridesToString(Class<?> type) {
        try {
            return type.getMethod("toString").getDeclaringClass() != Object.class;
        } catch (NoSuchMethodException e) {
            return false;
        }
    }

    /** A class that Mockito or Byte Buddy made at run time (a mock, a proxy): neither traced
     * (Scope) nor asked for its text, since every call on a mock is one its test sees
     * (Mockito's `when(mock.get())` stubs the mock's last call). */
    static boolean generated(Class<?> c) {
        return generatedName(c.getName());
    }

    static boolean generatedName(String className) {
        return className.contains("$MockitoMock$") || className.contains("$ByteBuddy$");
    }

    static boolean isJdk(Class<?> c) {
        String n = c.getName();
        return n.startsWith("java.") || n.startsWith("javax.") || n.startsWith("jdk.") || n.startsWith("sun.");
    }

    static String typeName(Class<?> type) {
        if (type.isArray()) {
            return typeName(type.getComponentType()) + "[]";
        }
        return isJdk(type) ? type.getSimpleName() : type.getName();
    }
}
