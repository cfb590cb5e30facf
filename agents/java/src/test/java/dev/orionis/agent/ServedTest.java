package dev.orionis.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The W3C traceparent a served request came with: a valid one names the request's parent
 * (and the trace that requests sent while serving it go on in); any other is only recorded. */
class ServedTest {
    @Test
    void aValidTraceparentNamesTheParent() {
        Recorder.Served served = new Recorder.Served(" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00 ");
        assertEquals("4bf92f3577b34da6a3ce929d0e0e4736", served.parentTrace);
        assertEquals("00f067aa0ba902b7", served.parentSpan);
        assertEquals("00", served.flags);
        // a later version may add fields after the flags
        assertEquals("00f067aa0ba902b7",
                new Recorder.Served("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later").parentSpan);
    }

    @Test
    void anInvalidOneIsNotAParent() {
        for (String header : List.of("", "nonsense", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra")) {
            Recorder.Served served = new Recorder.Served(header);
            assertNull(served.parentTrace, header);
            assertEquals(header, served.received);
        }
        assertNull(new Recorder.Served(null).parentSpan);
    }
}
