package dev.orionis.agent;

import java.lang.reflect.Method;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A test's own trace on the thread that runs it (spec 7.1), whichever framework reports
 * the test (JUnit Platform, JUnit 4's RunNotifier, TestNG): begun as the test starts,
 * written with the failing stack when it fails, its rows dropped when it passes. */
final class Tests {
    /** A JUnit Platform launcher reports the tests of this JVM: JUnit 4's notifier, which
     * the vintage engine drives underneath, must not report them twice. */
    static volatile boolean platformReports;
    /** Tests of this JVM that failed (each has its trace). */
    static volatile int failedSoFar;

    private Tests() {
    }

    /** Test `name` (`Class.method`) starts on this thread. */
    static void begin(String name) {
        Context c = Recorder.context;
        if (c == null) {
            return;
        }
        Lane l = Recorder.lane();
        Trace test = new Trace(c, name, true);
        if (c.settings.mode != Settings.Mode.ERROR) {
            test.processTrace = Recorder.process.id; // where the test's calls are, in full
        }
        l.testFrom = l.kept;
        l.test = test;
        l.testFailed = false;
        l.testFailure = null;
    }

    /** This thread's test failed with `thrown` (null when the framework gave none); its
     * trace is written when it ends. */
    static void failed(Throwable thrown) {
        Lane l = Recorder.context == null ? null : Recorder.lane();
        if (l != null && l.test != null) {
            l.testFailed = true;
            l.testFailure = thrown;
        }
    }

    /** This thread's test ended: "passed", "failed" or "skipped"; a failure reported
     * before (`failed`) makes it "failed" whatever the framework says now. */
    static void end(String outcome, Throwable thrown) {
        Context c = Recorder.context;
        if (c == null) {
            return;
        }
        Lane l = Recorder.lane();
        Trace test = l.test;
        if (test == null) {
            return;
        }
        l.test = null;
        if (l.testFailed) {
            outcome = "failed";
            thrown = thrown != null ? thrown : l.testFailure;
        }
        l.testFailed = false;
        l.testFailure = null;
        Map<String, Object> about = new LinkedHashMap<>();
        about.put("id", test.name);
        about.put("outcome", outcome);
        test.test = about;
        if (!"failed".equals(outcome)) {
            test.finish(null, null, List.of(), null);
            return;
        }
        failedSoFar++; // racy across threads, but only ever compared with 0
        l.busy = true;
        try {
            test.finish(Recorder.failureOf(c, l, thrown, "test"), null, l.since(l.testFrom), null);
        } finally {
            l.busy = false;
        }
    }

    /** `target`'s public no-argument method `name`, called by reflection (the test
     * frameworks' classes are the test class path's, not the agent's). */
    static Object call(Object target, String name) throws ReflectiveOperationException {
        Method m = target.getClass().getMethod(name);
        m.setAccessible(true);
        return m.invoke(target);
    }
}
