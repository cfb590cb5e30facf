package dev.orionis.agent;

import java.io.File;
import java.io.IOException;
import java.lang.instrument.Instrumentation;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import net.bytebuddy.ByteBuddy;
import net.bytebuddy.agent.builder.AgentBuilder;
import net.bytebuddy.asm.Advice;
import net.bytebuddy.description.method.MethodDescription;
import net.bytebuddy.description.type.TypeDescription;
import net.bytebuddy.dynamic.ClassFileLocator;
import net.bytebuddy.dynamic.scaffold.TypeValidation;
import net.bytebuddy.implementation.bytecode.assign.Assigner;
import net.bytebuddy.implementation.bytecode.constant.IntegerConstant;
import net.bytebuddy.utility.JavaModule;

import static net.bytebuddy.matcher.ElementMatchers.isBridge;
import static net.bytebuddy.matcher.ElementMatchers.isAbstract;
import static net.bytebuddy.matcher.ElementMatchers.isConstructor;
import static net.bytebuddy.matcher.ElementMatchers.isMethod;
import static net.bytebuddy.matcher.ElementMatchers.isNative;
import static net.bytebuddy.matcher.ElementMatchers.named;
import static net.bytebuddy.matcher.ElementMatchers.none;
import static net.bytebuddy.matcher.ElementMatchers.not;
import static net.bytebuddy.matcher.ElementMatchers.takesArguments;

/** Sets the agent up, from the boot class path (so that the JDK's own instrumented classes
 * reach the recorder): the application's classes, Thread.start, Runtime.exit, JUnit's
 * launcher; the default handler of uncaught exceptions; the shutdown hook. */
public final class Installer {
    private static final String LAUNCHER = "org.junit.platform.launcher.core.DefaultLauncher";

    private Installer() {
    }

    public static void install(Instrumentation inst, File jar) throws IOException {
        long started = System.nanoTime();
        Settings settings = Settings.fromEnvironment();
        Context context = new Context(settings, System.getenv());
        Scope scope = new Scope(settings.include, mainJar());
        Recorder.start(context);
        ClassFileLocator agentClasses = ClassFileLocator.ForJarFile.of(jar);
        inst.addTransformer(new ClassScan(scope), false);
        Advice.WithCustomMapping ids = Advice.withCustomMapping().bind(FnId.class, new FunctionIds());
        Advice methods = ids.to(Advices.Method.class, agentClasses);
        Advice constructors = ids.to(Advices.Constructor.class, agentClasses);
        new AgentBuilder.Default(new ByteBuddy().with(TypeValidation.DISABLED))
                .with(AgentBuilder.DescriptionStrategy.Default.POOL_ONLY)
                .with(AgentBuilder.TypeStrategy.Default.DECORATE)
                .with(AgentBuilder.InitializationStrategy.NoOp.INSTANCE)
                .with(new Completion())
                // decided on the class's name, loader and location alone: no other class
                // (the JDK's, the dependencies') is described or parsed
                .ignore((type, loader, module, redefined, domain) ->
                        !scope.traced(type.getName(), loader, domain) && !type.getName().equals(LAUNCHER))
                .assureReadEdgeTo(inst, Recorder.class)
                .type(named(LAUNCHER))
                .transform((builder, type, loader, module, domain) -> builder
                        .visit(Advice.to(Advices.Launcher.class, agentClasses).on(isConstructor())))
                .type((type, loader, module, redefined, domain) -> true)
                .transform((builder, type, loader, module, domain) -> builder
                        .visit(methods.on(isMethod().and(not(isAbstract())).and(not(isNative())).and(not(isBridge()))))
                        .visit(constructors.on(isConstructor())))
                .installOn(inst);
        // Thread and Runtime are loaded already: retransformed once, and the transformer
        // removed so that no later class load pays for it.
        inst.removeTransformer(new AgentBuilder.Default(new ByteBuddy().with(TypeValidation.DISABLED))
                .disableClassFormatChanges()
                .with(AgentBuilder.RedefinitionStrategy.RETRANSFORMATION)
                .with(new AgentBuilder.RedefinitionStrategy.DiscoveryStrategy.Explicit(Thread.class, Runtime.class))
                .with(AgentBuilder.InitializationStrategy.NoOp.INSTANCE)
                .with(AgentBuilder.TypeStrategy.Default.REDEFINE)
                .ignore((type, loader, module, redefined, domain) -> redefined != Thread.class && redefined != Runtime.class)
                .assureReadEdgeTo(inst, Recorder.class)
                .type(named("java.lang.Thread"))
                .transform((builder, type, loader, module, domain) -> builder
                        .visit(Advice.to(Advices.ThreadStart.class, agentClasses).on(named("start").and(takesArguments(0)))))
                .type(named("java.lang.Runtime"))
                .transform((builder, type, loader, module, domain) -> builder
                        .visit(Advice.to(Advices.RuntimeExit.class, agentClasses).on(named("exit").and(takesArguments(int.class)))))
                .installOn(inst));
        Thread.setDefaultUncaughtExceptionHandler(new UncaughtHandler(Thread.getDefaultUncaughtExceptionHandler()));
        Runtime.getRuntime().addShutdownHook(new Thread(Recorder::shutdown, "orion-shutdown"));
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

    /** Numbers each instrumented method once, from its class's scanned facts. */
    private static final class FunctionIds implements Advice.OffsetMapping {
        private final Map<String, Integer> ids = new ConcurrentHashMap<>();

        @Override
        public Target resolve(TypeDescription type, MethodDescription method, Assigner assigner,
                              Advice.ArgumentHandler arguments, Sort sort) {
            String key = type.getName() + "#" + method.getInternalName() + method.getDescriptor();
            int id = ids.computeIfAbsent(key, k -> register(type, method));
            return new Target.ForStackManipulation(IntegerConstant.forValue(id));
        }

        private static int register(TypeDescription type, MethodDescription method) {
            ClassScan.ClassFacts facts = ClassScan.facts(type.getName());
            ClassScan.MethodFacts methodFacts = facts == null ? null
                    : facts.methods.get(method.getInternalName() + method.getDescriptor());
            String[] parameters = methodFacts != null ? methodFacts.parameters : new String[0];
            String name = method.isConstructor() ? "<init>" : method.getInternalName();
            return Functions.register(new Functions.Info(type.getName(), name,
                    facts == null ? null : facts.sourceFile, methodFacts == null ? 0 : methodFacts.firstLine,
                    parameters, method.getReturnType().represents(void.class)));
        }
    }

    /** Forgets a class's scanned facts once it is instrumented (or was not); with
     * ORION_DEBUG=1, says on stderr which classes could not be instrumented and why. */
    private static final class Completion extends AgentBuilder.Listener.Adapter {
        private final boolean debug = "1".equals(System.getenv("ORION_DEBUG"));

        @Override
        public void onError(String typeName, ClassLoader loader, JavaModule module, boolean loaded, Throwable error) {
            if (debug) {
                System.err.println("orion: " + typeName + " is not instrumented: " + error);
            }
        }


        @Override
        public void onComplete(String typeName, ClassLoader loader, JavaModule module, boolean loaded) {
            ClassScan.forget(typeName);
        }
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
