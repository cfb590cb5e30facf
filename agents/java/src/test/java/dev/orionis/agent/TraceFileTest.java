package dev.orionis.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A program thread that records only packs records (issue 17: it must never wait while a
 * frame is compressed): a full batch is set aside, and only writeFrames, run by the
 * flushing thread outside the trace's lock, compresses and writes it, in order. */
class TraceFileTest {
    @Test
    void recordingNeverCompressesOrWrites(@TempDir Path spool) throws Exception {
        TraceFile file = new TraceFile(spool.toString(), "t.otrace", Map.of("format", "otrace"), System.nanoTime());
        long headerOnly = Files.size(file.path);
        int fn = Functions.register(new Functions.Info("demo.Busy", "step", "Busy.java", 3, new String[0], true));
        Lane lane = new Lane(Thread.currentThread(), null, 0, 1);
        boolean full = false;
        for (int i = 0; !full; i++) {
            full = file.write(new Event(Event.CALL, System.nanoTime(), lane, fn, 0, null));
            assertTrue(i < TraceFile.FRAME_TARGET, "a frame should fill within FRAME_TARGET calls");
        }
        assertEquals(headerOnly, Files.size(file.path), "the recording thread wrote to the file");
        List<byte[]> frames = file.takeFrames();
        assertEquals(1, frames.size());
        assertTrue(frames.get(0).length >= TraceFile.FRAME_TARGET);
        assertFalse(file.write(new Event(Event.CALL, System.nanoTime(), lane, fn, 0, null)));
        file.writeFrames(frames);
        assertTrue(Files.size(file.path) > headerOnly);
        file.finish(new java.util.LinkedHashMap<>(Map.of("status", "ok")));
    }
}
