package dev.orionis.agent;

import java.io.File;
import java.lang.instrument.Instrumentation;

/** Sets the agent up, from the boot class path (so that the JDK's own instrumented classes
 * reach the recorder): the weaver of the application's classes, Thread.start, Runtime.exit
 * and JUnit's launcher; the default handler of uncaught exceptions; the shutdown hook. */
public final class Installer {
    private Installer() {
    }

    public static void install(Instrumentation inst) throws Exception {
        long started = System.nanoTime();
        Msgpack.loadWithoutUnsafe();
        Settings settings = Settings.fromEnvironment();
        Context context = new Context(settings, System.getenv());
        Recorder.start(context);
        new Weaver(new Scope(settings.include, mainJar()), settings.mode, inst).install();
        Thread.setDefaultUncaughtExceptionHandler(new UncaughtHandler(Thread.getDefaultUncaughtExceptionHandler()));
        Runtime.getRuntime().addShutdownHook(new Thread(new Runnable() { // no lambda: see Redactor
            @Override
            public void run() {
                Recorder.shutdown();
            }
        }, "orion-shutdown"));
        if ("1".equals(System.getenv("ORION_DEBUG"))) {
            System.err.printf("orion: the Java agent started in %d ms%n", (System.nanoTime() - started) / 1_000_000);
        }
    }

    /** The jar `java -jar` runs: its classes are the application's. */
    private static String mainJar() {
        String command = System.getProperty("sun.java.command", "");
        String first = command.split(" ", 2)[0];
        return first.endsWith(".jar") ? new File(first).getAbsolutePath() : null;
    }

    /** Records an uncaught exception, then lets the JVM report it as it would have: through
     * the handler that was there, else as ThreadGroup does ("Exception in thread ..."). */
    private static final class UncaughtHandler implements Thread.UncaughtExceptionHandler {
        private final Thread.UncaughtExceptionHandler previous;

        UncaughtHandler(Thread.UncaughtExceptionHandler previous) {
            this.previous = previous;
        }

        @Override
        public void uncaughtException(Thread thread, Throwable e) {
            try {
                Recorder.uncaught(thread, e);
            } catch (RuntimeException | LinkageError ignored) {
                // the program's own report below matters more
            }
            if (previous != null) {
                previous.uncaughtException(thread, e);
            } else if (!(e instanceof ThreadDeath)) {
                System.err.print("Exception in thread \"" + thread.getName() + "\" ");
                e.printStackTrace(System.err);
            }
        }
    }
}
