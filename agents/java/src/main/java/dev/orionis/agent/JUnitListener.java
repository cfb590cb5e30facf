package dev.orionis.agent;

import java.lang.reflect.Array;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** A JUnit Platform TestExecutionListener added to every launcher without touching the
 * build (Surefire's and Gradle's alike): each test runs with a trace of its own on its
 * thread, written when the test fails (spec 7.1). JUnit is reached by reflection: its
 * classes are the test class path's, not the agent's. Public because the launcher's
 * instrumented constructor calls it. */
public final class JUnitListener implements InvocationHandler {
    private static final String LISTENER = "org.junit.platform.launcher.TestExecutionListener";

    private JUnitListener() {
    }

    public static void attach(Object launcher) {
        Context c = Recorder.context;
        if (c == null) {
            return;
        }
        try {
            ClassLoader loader = launcher.getClass().getClassLoader();
            Class<?> type = Class.forName(LISTENER, false, loader);
            Object listener = Proxy.newProxyInstance(loader, new Class<?>[] {type}, new JUnitListener());
            Object listeners = Array.newInstance(type, 1);
            Array.set(listeners, 0, listener);
            Method register = launcher.getClass().getMethod("registerTestExecutionListeners", listeners.getClass());
            register.setAccessible(true);
            register.invoke(launcher, listeners);
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            c.warn("failing JUnit tests get no trace of their own: " + e);
        }
    }

    @Override
    public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
        switch (method.getName()) {
            case "executionStarted":
                started(args[0]);
                return null;
            case "executionFinished":
                finished(args[0], args[1]);
                return null;
            case "hashCode":
                return System.identityHashCode(proxy);
            case "equals":
                return proxy == args[0];
            case "toString":
                return "orion JUnit listener";
            default:
                return null;
        }
    }

    private static Object call(Object target, String name) throws ReflectiveOperationException {
        Method m = target.getClass().getMethod(name);
        m.setAccessible(true);
        return m.invoke(target);
    }

    /** `Class.method` for a test method, else the test's display name. */
    private static String testName(Object identifier) throws ReflectiveOperationException {
        Object source = ((Optional<?>) call(identifier, "getSource")).orElse(null);
        if (source != null && source.getClass().getSimpleName().equals("MethodSource")) {
            return call(source, "getClassName") + "." + call(source, "getMethodName");
        }
        return String.valueOf(call(identifier, "getDisplayName"));
    }

    private static void started(Object identifier) throws ReflectiveOperationException {
        Context c = Recorder.context;
        if (c == null || !(Boolean) call(identifier, "isTest")) {
            return;
        }
        Lane l = Recorder.lane();
        Trace test = new Trace(c, testName(identifier), true);
        if (c.settings.mode != Settings.Mode.ERROR) {
            test.processTrace = Recorder.process.id; // where the test's calls are, in full
        }
        l.testFrom = l.kept;
        l.test = test;
    }

    private static void finished(Object identifier, Object result) throws ReflectiveOperationException {
        Context c = Recorder.context;
        if (c == null || !(Boolean) call(identifier, "isTest")) {
            return;
        }
        Lane l = Recorder.lane();
        Trace test = l.test;
        if (test == null) {
            return;
        }
        l.test = null;
        String status = String.valueOf(call(result, "getStatus"));
        Map<String, Object> about = new LinkedHashMap<>();
        about.put("id", test.name);
        about.put("outcome", "FAILED".equals(status) ? "failed" : "SUCCESSFUL".equals(status) ? "passed" : "skipped");
        test.test = about;
        if (!"FAILED".equals(status)) {
            test.finish(null, null, List.of(), null);
            return;
        }
        Throwable thrown = (Throwable) ((Optional<?>) call(result, "getThrowable")).orElse(null);
        l.busy = true;
        try {
            test.finish(Recorder.failureOf(c, l, thrown, "test"), null, l.since(l.testFrom), null);
        } finally {
            l.busy = false;
        }
    }
}
