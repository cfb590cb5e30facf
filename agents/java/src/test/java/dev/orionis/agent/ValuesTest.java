package dev.orionis.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Values are captured with the limits every agent shares (DESIGN.md): 200 characters,
 * 50 items, depth 2, a toString that throws as an error node, secrets redacted. */
class ValuesTest {
    private final Values values = new Values(new Redactor(Map.of()));

    static final class Plain {
        int count = 3;
        String password = "opensesame";
        List<Integer> deep = List.of(1);
    }

    static final class Broken {
        @Override
        public String toString() {
            throw new IllegalStateException("no text");
        }
    }

    @Test
    void scalarsStayScalars() {
        assertEquals(42L, values.capture(42, 0));
        assertEquals("hi", values.capture("hi", 0));
        assertEquals(1.5, values.capture(1.5, 0));
        assertNull(values.capture(null, 0));
        Node nan = (Node) values.capture(Double.NaN, 0);
        assertEquals("nan", nan.payload);
    }

    @Test
    void longStringsAndSequencesAreCut() {
        Node text = (Node) values.capture("x".repeat(250), 0);
        assertEquals(Node.TEXT, text.kind);
        assertEquals(200, ((String) text.payload).length());
        assertEquals(250, text.cut);
        List<Integer> many = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            many.add(i);
        }
        Node seq = (Node) values.capture(many, 0);
        assertEquals(50, seq.items().size());
        assertEquals(60, seq.cut);
    }

    @Test
    void objectsShowTheirFieldsWithSecretsRedactedAndDepthElided() {
        Node object = (Node) values.capture(new Plain(), 0);
        assertEquals(Node.OBJECT, object.kind);
        List<Object> fields = object.items();
        assertEquals("count", fields.get(0));
        assertEquals(3L, fields.get(1));
        assertEquals(Node.REDACTED, ((Node) fields.get(3)).kind);
        assertEquals(Node.SEQ, ((Node) fields.get(5)).kind);
        Node nested = (Node) values.capture(List.of(List.of(List.of(1))), 0);
        Node inner = (Node) nested.items().get(0);
        assertEquals(Node.ELIDED, ((Node) inner.items().get(0)).kind);
    }

    @Test
    void aToStringThatThrowsIsAnErrorNode() {
        Node error = (Node) values.capture(new Broken(), 0);
        assertEquals(Node.ERROR, error.kind);
        assertEquals("java.lang.IllegalStateException: no text", error.payload);
    }

    @Test
    void secretNamedArgumentsAreRedactedAndTheirValueScrubbedLater() {
        Redactor secrets = new Redactor(Map.of());
        Values v = new Values(secrets);
        assertEquals(Node.REDACTED, ((Node) v.named("apiKey", "k-123456789")).kind);
        assertEquals(Node.REDACTED, ((Node) v.capture("my k-123456789", 0)).kind);
    }

    @Test
    void mapsUnderStringKeysStopAtDepthTwo() {
        // once, a value under a string key was captured from depth 0 again: a map nested
        // a thousand deep (as JSON-java's tests build) made a record too deep to read
        Map<String, Object> nested = Map.of();
        for (int i = 0; i < 1000; i++) {
            nested = Map.of("t", nested);
        }
        Node top = (Node) values.capture(nested, 0);
        Node second = (Node) top.items().get(1);
        Node third = (Node) second.items().get(1);
        assertEquals(Node.MAP, second.kind);
        assertEquals(Node.ELIDED, third.kind);
    }

    /** Named as Mockito names its mocks' classes. */
    static final class Bean$MockitoMock$1 {
        int asked;

        @Override
        public String toString() {
            asked++;
            return "a mock";
        }
    }

    @Test
    void mocksAreNotAskedForTheirText() {
        Bean$MockitoMock$1 mock = new Bean$MockitoMock$1();
        Node captured = (Node) values.capture(mock, 0);
        assertEquals(0, mock.asked); // Mockito would have seen a toString() call
        assertEquals(Node.TEXT, captured.kind);
    }
}
