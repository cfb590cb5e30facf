package dev.orionis.agent;

/** JUnit 4's RunNotifier, as Surefire's own JUnit 4 provider (and any JUnit 4 runner)
 * drives it: its fireTest* methods call these first, so each test gets a trace of its own
 * without a listener in the build. JUnit is reached by reflection (its classes are the test
 * class path's). Under a JUnit Platform launcher the vintage engine drives a RunNotifier
 * too: the platform's listener reports those tests, and these stay quiet. Public because
 * the instrumented notifier calls it. */
public final class JUnit4Hooks {
    private JUnit4Hooks() {
    }

    /** RunNotifier.fireTestStarted(Description). */
    public static void started(Object description) {
        if (quiet()) {
            return;
        }
        try {
            Object method = Tests.call(description, "getMethodName");
            Tests.begin(Tests.call(description, "getClassName") + (method != null ? "." + method : ""));
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            warn(e);
        }
    }

    /** RunNotifier.fireTestFailure(Failure): the test failed, with this exception. */
    public static void failed(Object failure) {
        if (quiet()) {
            return;
        }
        try {
            Tests.failed((Throwable) Tests.call(failure, "getException"));
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            warn(e);
        }
    }

    /** RunNotifier.fireTestAssumptionFailed(Failure): the test is skipped. */
    public static void skipped(Object failure) {
        if (!quiet()) {
            Tests.end("skipped", null);
        }
    }

    /** RunNotifier.fireTestFinished(Description). */
    public static void finished(Object description) {
        if (!quiet()) {
            Tests.end("passed", null);
        }
    }

    private static boolean quiet() {
        return Recorder.context == null || Tests.platformReports;
    }

    private static void warn(Throwable e) {
        Context c = Recorder.context;
        if (c != null) {
            c.warn("a JUnit 4 test's report was not understood: " + e);
        }
    }
}
