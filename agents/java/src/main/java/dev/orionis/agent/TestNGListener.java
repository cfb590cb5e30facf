package dev.orionis.agent;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.Collections;
import java.util.Set;
import java.util.WeakHashMap;

/** A TestNG ITestListener given to every TestNG run without touching the build (Surefire's
 * TestNG provider's and any other): TestNG.run calls `attach` first. TestNG is reached by
 * reflection (its classes are the test class path's). Public because the instrumented
 * TestNG calls it. */
public final class TestNGListener implements InvocationHandler {
    private static final String LISTENER = "org.testng.ITestListener";
    /** The TestNG objects that have the listener already (run may be called again). */
    private static final Set<Object> ATTACHED = Collections.synchronizedSet(Collections.newSetFromMap(new WeakHashMap<>()));

    private TestNGListener() {
    }

    /** TestNG.run(): adds the listener to `testng` once. */
    public static void attach(Object testng) {
        Context c = Recorder.context;
        if (c == null || !ATTACHED.add(testng)) {
            return;
        }
        try {
            ClassLoader loader = testng.getClass().getClassLoader();
            Class<?> type = Class.forName(LISTENER, false, loader);
            Object listener = Proxy.newProxyInstance(loader, new Class<?>[] {type}, new TestNGListener());
            Class<?> anyListener = Class.forName("org.testng.ITestNGListener", false, loader);
            testng.getClass().getMethod("addListener", anyListener).invoke(testng, listener);
        } catch (InvocationTargetException e) {
            c.warn("failing TestNG tests get no trace of their own: " + e.getCause());
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            c.warn("failing TestNG tests get no trace of their own: " + e);
        }
    }

    @Override
    public Object invoke(Object proxy, Method method, Object[] args) {
        try {
            return report(proxy, method.getName(), args);
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            Context c = Recorder.context;
            if (c != null) {
                c.warn("a TestNG test's report was not understood: " + e);
            }
            return null; // TestNG's run goes on as it would without the agent
        }
    }

    private static Object report(Object proxy, String method, Object[] args) throws ReflectiveOperationException {
        switch (method) {
            case "onTestStart":
                Tests.begin(testName(args[0]));
                return null;
            case "onTestSuccess":
            case "onTestFailedButWithinSuccessPercentage": // TestNG counts it a success
                Tests.end("passed", null);
                return null;
            case "onTestFailure":
            case "onTestFailedWithTimeout":
                Tests.end("failed", (Throwable) Tests.call(args[0], "getThrowable"));
                return null;
            case "onTestSkipped":
                Tests.end("skipped", null);
                return null;
            case "isEnabled": // TestNG 7.10+ asks each listener
                return true;
            case "hashCode":
                return System.identityHashCode(proxy);
            case "equals":
                return proxy == args[0];
            case "toString":
                return "orion TestNG listener";
            default:
                return null;
        }
    }

    /** `Class.method` of an ITestResult. */
    private static String testName(Object result) throws ReflectiveOperationException {
        return Tests.call(Tests.call(result, "getTestClass"), "getName") + "." + Tests.call(result, "getName");
    }
}
