package dev.orionis.agent;

import java.lang.reflect.Array;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
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
            Tests.platformReports = true;
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

    /** `Class.method` for a test method, else the test's display name. */
    private static String testName(Object identifier) throws ReflectiveOperationException {
        Object source = ((Optional<?>) Tests.call(identifier, "getSource")).orElse(null);
        if (source != null && source.getClass().getSimpleName().equals("MethodSource")) {
            return Tests.call(source, "getClassName") + "." + Tests.call(source, "getMethodName");
        }
        return String.valueOf(Tests.call(identifier, "getDisplayName"));
    }

    private static void started(Object identifier) throws ReflectiveOperationException {
        if ((Boolean) Tests.call(identifier, "isTest")) {
            Tests.begin(testName(identifier));
        }
    }

    private static void finished(Object identifier, Object result) throws ReflectiveOperationException {
        if (!(Boolean) Tests.call(identifier, "isTest")) {
            return;
        }
        String status = String.valueOf(Tests.call(result, "getStatus"));
        Throwable thrown = (Throwable) ((Optional<?>) Tests.call(result, "getThrowable")).orElse(null);
        Tests.end("FAILED".equals(status) ? "failed" : "SUCCESSFUL".equals(status) ? "passed" : "skipped",
                thrown);
    }
}
