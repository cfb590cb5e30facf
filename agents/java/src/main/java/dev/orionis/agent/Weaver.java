package dev.orionis.agent;

import java.lang.instrument.ClassFileTransformer;
import java.lang.instrument.Instrumentation;
import java.security.ProtectionDomain;
import java.util.Map;
import java.util.Set;
import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.Label;
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Opcodes;
import org.objectweb.asm.Type;

/** Puts the recorder's calls into the application's classes as they load (plain ASM, one
 * pass per class, no class of the program loaded or parsed to decide: a JVM pays only for
 * the classes it traces). Each method of a traced class calls Recorder.enter on entry,
 * Recorder.exit before each return, and Recorder.unwind from a catch-all handler that
 * rethrows; in dev mode the arguments, `this` and the return value go along. Constructors
 * have no handler (`this` is not usable before super()): the recorder closes such a call
 * when its caller unwinds. Also JUnit's DefaultLauncher (its listener), JUnit 4's
 * RunNotifier and TestNG.run (each test's outcome), Thread.start (lane
 * parents; VirtualThread.start too where the JDK has virtual threads), Runtime.exit (the
 * status), and HTTP: HttpClient's and HttpURLConnection's requests (a W3C traceparent
 * header; an event once answered) and the requests HttpServlet.service (javax and
 * jakarta) and com.sun.net.httpserver serve (their caller's traceparent goes on in the
 * requests sent meanwhile). */
final class Weaver implements ClassFileTransformer {
    private static final String RECORDER = "dev/orionis/agent/Recorder";
    private static final String LAUNCHER = "org/junit/platform/launcher/core/DefaultLauncher";
    private static final String HTTP_CLIENT = "jdk/internal/net/http/HttpClientImpl";
    /** HttpURLConnection's implementation: connect sends the headers, getInputStream reads the answer. */
    private static final String URL_CONNECTION = "sun/net/www/protocol/http/HttpURLConnection";
    private static final String JUNIT4 = "dev/orionis/agent/JUnit4Hooks";
    private static final String JUNIT4_DESCRIPTION = "(Lorg/junit/runner/Description;)V";
    private static final String JUNIT4_FAILURE = "(Lorg/junit/runner/notification/Failure;)V";
    /** JUnit 4's RunNotifier: each test's start, failure, assumption failure and end. */
    private static final Map<String, EntryHook> RUN_NOTIFIER = Map.of(
            "fireTestStarted" + JUNIT4_DESCRIPTION, EntryHook.object(JUNIT4, "started", 1),
            "fireTestFailure" + JUNIT4_FAILURE, EntryHook.object(JUNIT4, "failed", 1),
            "fireTestAssumptionFailed" + JUNIT4_FAILURE, EntryHook.object(JUNIT4, "skipped", 1),
            "fireTestFinished" + JUNIT4_DESCRIPTION, EntryHook.object(JUNIT4, "finished", 1));
    /** TestNG.run: the agent's listener joins first. */
    private static final Map<String, EntryHook> TESTNG = Map.of(
            "run()V", EntryHook.object("dev/orionis/agent/TestNGListener", "attach", 0));
    /** What the inserted code needs on a method's operand stack, at most: the handler's
     * [thrown, thrown, fn, self, args, args, index, a long or double argument]. */
    private static final int EXTRA_STACK = 9;

    private final Scope scope;
    /** Dev mode: arguments, `this` and return values go along. */
    private final boolean values;
    /** Error mode: getters, setters and record accessors stay as they are (ClassScan). */
    private final boolean skipAccessors;
    private final Instrumentation inst;

    Weaver(Scope scope, Settings.Mode mode, Instrumentation inst) {
        this.scope = scope;
        this.values = mode == Settings.Mode.DEV;
        this.skipAccessors = mode == Settings.Mode.ERROR;
        this.inst = inst;
    }

    /** Weaves classes from now on, and Thread and Runtime (loaded already) once. */
    void install() throws Exception {
        inst.addTransformer(this, false);
        Module agent = Recorder.class.getModule();
        inst.redefineModule(Object.class.getModule(), Set.of(agent), Map.of(), Map.of(), Set.of(), Map.of());
        ClassFileTransformer jdk = new ClassFileTransformer() {
            @Override
            public byte[] transform(ClassLoader loader, String name, Class<?> redefined,
                                    ProtectionDomain domain, byte[] bytes) {
                if ("java/lang/Thread".equals(name)) {
                    return atEntry(bytes, Map.of("start()V",
                            EntryHook.recorder("threadStarting", "(Ljava/lang/Thread;)V", Opcodes.ALOAD)));
                }
                if ("java/lang/VirtualThread".equals(name)) { // JDK 21+: every virtual thread starts here
                    return atEntry(bytes, Map.of("start(Ljdk/internal/vm/ThreadContainer;)V",
                            EntryHook.recorder("threadStarting", "(Ljava/lang/Thread;)V", Opcodes.ALOAD)));
                }
                if ("java/lang/Runtime".equals(name)) {
                    return atEntry(bytes, Map.of("exit(I)V", EntryHook.recorder("exiting", "(I)V", Opcodes.ILOAD)));
                }
                return null;
            }
        };
        inst.addTransformer(jdk, true);
        try {
            inst.retransformClasses(Thread.class, Runtime.class);
            Class<?> virtual = virtualThreads();
            if (virtual != null) {
                inst.retransformClasses(virtual);
            }
        } finally {
            inst.removeTransformer(jdk); // no later class load pays for it
        }
    }

    /** java.lang.VirtualThread, on a JDK that has virtual threads. */
    private static Class<?> virtualThreads() {
        try {
            return Class.forName("java.lang.VirtualThread", false, null);
        } catch (ClassNotFoundException e) {
            return null;
        }
    }

    @Override
    public byte[] transform(Module module, ClassLoader loader, String name, Class<?> redefined,
                            ProtectionDomain domain, byte[] bytes) {
        if (name == null) {
            return null;
        }
        try {
            if (name.equals(LAUNCHER)) {
                readRecorder(module);
                return launcher(bytes);
            }
            if (name.equals("org/junit/runner/notification/RunNotifier")) {
                readRecorder(module);
                return atEntry(bytes, RUN_NOTIFIER);
            }
            if (name.equals("org/testng/TestNG")) {
                readRecorder(module);
                return atEntry(bytes, TESTNG);
            }
            if (name.equals(URL_CONNECTION)) { // http: and https: URLs alike
                readRecorder(module);
                EntryHook connecting = EntryHook.recorder("connecting", "(Ljava/lang/Object;)V", Opcodes.ALOAD);
                byte[] sending = atEntry(bytes, Map.of("connect()V", connecting,
                        "getOutputStream()Ljava/io/OutputStream;", connecting,
                        "getInputStream()Ljava/io/InputStream;", connecting));
                return around(sending, name, "getInputStream", "()Ljava/io/InputStream;", null, "answered", false, 0);
            }
            if (name.equals("javax/servlet/http/HttpServlet") || name.equals("jakarta/servlet/http/HttpServlet")) {
                readRecorder(module);
                String api = name.substring(0, name.indexOf('/'));
                return around(bytes, name, "service", "(L" + api + "/servlet/ServletRequest;L" + api
                        + "/servlet/ServletResponse;)V", "serving", "served", false, 0, 1, 2);
            }
            if (name.equals("sun/net/httpserver/ServerImpl$Exchange$LinkHandler")) {
                // com.sun.net.httpserver: from the server's own filters to the application's
                readRecorder(module);
                return around(bytes, name, "handle", "(Lcom/sun/net/httpserver/HttpExchange;)V", "exchanging",
                        "exchanged", false, 1);
            }
            if (name.equals(HTTP_CLIENT)) { // every request of java.net.http.HttpClient passes here
                readRecorder(module);
                byte[] sending = around(bytes, name, "send", "(Ljava/net/http/HttpRequest;"
                        + "Ljava/net/http/HttpResponse$BodyHandler;)Ljava/net/http/HttpResponse;",
                        "sendingSync", "sentSync", true);
                return filtered(sending, "sendAsync", "(Ljava/net/http/HttpRequest;Ljava/net/http/HttpResponse$BodyHandler;"
                        + "Ljava/net/http/HttpResponse$PushPromiseHandler;Ljava/util/concurrent/Executor;)"
                        + "Ljava/util/concurrent/CompletableFuture;", "outgoing", "sent");
            }
            if (!scope.traced(name.replace('/', '.'), loader, domain)) {
                return null;
            }
            readRecorder(module);
            return weave(bytes);
        } catch (RuntimeException | LinkageError e) {
            if ("1".equals(System.getenv("ORION_DEBUG"))) {
                System.err.println("orion: " + name + " is not instrumented: " + e);
            }
            return null; // the class runs as it was
        } catch (StackOverflowError e) {
            return null; // loaded near the stack's end: it runs as it was, the JVM says nothing
        }
    }

    /** A class of a named module reaches the recorder only once its module reads the agent's. */
    private void readRecorder(Module module) {
        Module agent = Recorder.class.getModule();
        if (module != null && module.isNamed() && !module.canRead(agent)) {
            inst.redefineModule(module, Set.of(agent), Map.of(), Map.of(), Set.of(), Map.of());
        }
    }

    private byte[] weave(byte[] bytes) {
        ClassScan.ClassFacts facts = ClassScan.scan(bytes);
        ClassReader reader = new ClassReader(bytes);
        ClassWriter writer = new ClassWriter(0);
        reader.accept(new ClassVisitor(Opcodes.ASM9, writer) {
            private String owner;
            private int version;

            @Override
            public void visit(int version, int access, String name, String signature, String superName, String[] interfaces) {
                this.owner = name;
                this.version = version;
                super.visit(version, access, name, signature, superName, interfaces);
            }

            @Override
            public MethodVisitor visitMethod(int access, String name, String descriptor, String signature, String[] exceptions) {
                MethodVisitor mv = super.visitMethod(access, name, descriptor, signature, exceptions);
                if ((access & (Opcodes.ACC_ABSTRACT | Opcodes.ACC_NATIVE | Opcodes.ACC_BRIDGE)) != 0
                        || name.equals("<clinit>") || skipAccessors && accessor(facts, name, descriptor)) {
                    return mv;
                }
                int fn = register(facts, owner, name, descriptor);
                return new Traced(mv, fn, owner, access, name, descriptor, version >= Opcodes.V1_6);
            }
        }, ClassReader.EXPAND_FRAMES);
        return writer.toByteArray();
    }

    private static boolean accessor(ClassScan.ClassFacts facts, String name, String descriptor) {
        ClassScan.MethodFacts method = facts.methods.get(name + descriptor);
        return method != null && method.accessor;
    }

    private static int register(ClassScan.ClassFacts facts, String owner, String name, String descriptor) {
        ClassScan.MethodFacts method = facts.methods.get(name + descriptor);
        return Functions.register(new Functions.Info(owner.replace('/', '.'), name, facts.sourceFile,
                method == null ? 0 : method.firstLine, method == null ? new String[0] : method.parameters,
                Type.getReturnType(descriptor) == Type.VOID_TYPE));
    }

    /** The locals at a method's start, as a stack map frame names them. */
    private static Object[] initialLocals(String owner, boolean isStatic, Type[] arguments) {
        Object[] locals = new Object[(isStatic ? 0 : 1) + arguments.length];
        int at = 0;
        if (!isStatic) {
            locals[at++] = owner;
        }
        for (Type t : arguments) {
            switch (t.getSort()) {
                case Type.BOOLEAN: case Type.CHAR: case Type.BYTE: case Type.SHORT: case Type.INT:
                    locals[at++] = Opcodes.INTEGER;
                    break;
                case Type.FLOAT: locals[at++] = Opcodes.FLOAT; break;
                case Type.LONG: locals[at++] = Opcodes.LONG; break;
                case Type.DOUBLE: locals[at++] = Opcodes.DOUBLE; break;
                default: locals[at++] = t.getInternalName();
            }
        }
        return locals;
    }

    /** One method's insertions. */
    private final class Traced extends MethodVisitor {
        private final int fn;
        private final String owner;
        private final boolean isStatic;
        private final boolean constructor;
        private final Type[] arguments;
        private final Type returned;
        private final boolean frames;
        private final Label start = new Label();

        Traced(MethodVisitor mv, int fn, String owner, int access, String name, String descriptor, boolean frames) {
            super(Opcodes.ASM9, mv);
            this.fn = fn;
            this.owner = owner;
            this.isStatic = (access & Opcodes.ACC_STATIC) != 0;
            this.constructor = name.equals("<init>");
            this.arguments = Type.getArgumentTypes(descriptor);
            this.returned = Type.getReturnType(descriptor);
            this.frames = frames;
        }

        @Override
        public void visitCode() {
            super.visitCode();
            if (values) {
                push(fn);
                loadThis();
                argumentArray();
                call("enterWithValues", "(ILjava/lang/Object;[Ljava/lang/Object;)V");
            } else {
                push(fn);
                call("enter", "(I)V");
            }
            super.visitLabel(start);
        }

        @Override
        public void visitInsn(int opcode) {
            if (opcode >= Opcodes.IRETURN && opcode <= Opcodes.RETURN) {
                if (values && returned != Type.VOID_TYPE) {
                    super.visitInsn(returned.getSize() == 2 ? Opcodes.DUP2 : Opcodes.DUP);
                    box(returned);
                    push(fn);
                    call("exitWithValue", "(Ljava/lang/Object;I)V");
                } else {
                    push(fn);
                    call("exit", "(I)V");
                }
            }
            super.visitInsn(opcode);
        }

        @Override
        public void visitMaxs(int maxStack, int maxLocals) {
            if (!constructor) {
                Label end = new Label();
                Label handler = new Label();
                super.visitLabel(end);
                super.visitLabel(handler);
                if (frames) {
                    Object[] locals = initialLocals(owner, isStatic, arguments);
                    super.visitFrame(Opcodes.F_NEW, locals.length, locals, 1, new Object[] {"java/lang/Throwable"});
                }
                super.visitInsn(Opcodes.DUP);
                push(fn);
                loadThis();
                argumentArray();
                call("unwind", "(Ljava/lang/Throwable;ILjava/lang/Object;[Ljava/lang/Object;)V");
                super.visitInsn(Opcodes.ATHROW);
                // last in the exception table: the method's own handlers come first
                super.visitTryCatchBlock(start, end, handler, null);
            }
            super.visitMaxs(maxStack + EXTRA_STACK, maxLocals);
        }

        /** `this`, or null in a static method and before a constructor's super(). */
        private void loadThis() {
            if (isStatic || constructor) {
                super.visitInsn(Opcodes.ACONST_NULL);
            } else {
                super.visitVarInsn(Opcodes.ALOAD, 0);
            }
        }

        /** The arguments, boxed, in a new Object[]. */
        private void argumentArray() {
            push(arguments.length);
            super.visitTypeInsn(Opcodes.ANEWARRAY, "java/lang/Object");
            int slot = isStatic ? 0 : 1;
            for (int i = 0; i < arguments.length; i++) {
                super.visitInsn(Opcodes.DUP);
                push(i);
                super.visitVarInsn(arguments[i].getOpcode(Opcodes.ILOAD), slot);
                box(arguments[i]);
                super.visitInsn(Opcodes.AASTORE);
                slot += arguments[i].getSize();
            }
        }

        private void box(Type t) {
            if (t.getSort() >= Type.ARRAY) {
                return;
            }
            String wrapper;
            switch (t.getSort()) {
                case Type.BOOLEAN: wrapper = "java/lang/Boolean"; break;
                case Type.CHAR: wrapper = "java/lang/Character"; break;
                case Type.BYTE: wrapper = "java/lang/Byte"; break;
                case Type.SHORT: wrapper = "java/lang/Short"; break;
                case Type.INT: wrapper = "java/lang/Integer"; break;
                case Type.FLOAT: wrapper = "java/lang/Float"; break;
                case Type.LONG: wrapper = "java/lang/Long"; break;
                default: wrapper = "java/lang/Double";
            }
            super.visitMethodInsn(Opcodes.INVOKESTATIC, wrapper, "valueOf", "(" + t.getDescriptor() + ")L" + wrapper + ";", false);
        }

        private void push(int value) {
            if (value >= -1 && value <= 5) {
                super.visitInsn(Opcodes.ICONST_0 + value);
            } else if (value >= Byte.MIN_VALUE && value <= Byte.MAX_VALUE) {
                super.visitIntInsn(Opcodes.BIPUSH, value);
            } else if (value >= Short.MIN_VALUE && value <= Short.MAX_VALUE) {
                super.visitIntInsn(Opcodes.SIPUSH, value);
            } else {
                super.visitLdcInsn(value);
            }
        }

        private void call(String method, String descriptor) {
            super.visitMethodInsn(Opcodes.INVOKESTATIC, RECORDER, method, descriptor, false);
        }
    }

    /** The JUnit Platform's DefaultLauncher: each constructor ends by giving the new
     * launcher the agent's listener. */
    private static byte[] launcher(byte[] bytes) {
        return rewrite(bytes, new MethodRewrite() {
            @Override
            MethodVisitor apply(String name, String descriptor, MethodVisitor mv) {
                return !name.equals("<init>") ? mv : new MethodVisitor(Opcodes.ASM9, mv) {
                    @Override
                    public void visitInsn(int opcode) {
                        if (opcode == Opcodes.RETURN) {
                            super.visitVarInsn(Opcodes.ALOAD, 0);
                            super.visitMethodInsn(Opcodes.INVOKESTATIC, "dev/orionis/agent/JUnitListener", "attach",
                                    "(Ljava/lang/Object;)V", false);
                        }
                        super.visitInsn(opcode);
                    }
                };
            }
        });
    }

    /** A method that first calls a static `hook` of the agent's `hookOwner` with its local
     * `slot` (0: the receiver, 1: the first argument), loaded by `load`. */
    private static final class EntryHook {
        final String hookOwner;
        final String hook;
        final String hookDescriptor;
        final int load;
        final int slot;

        EntryHook(String hookOwner, String hook, String hookDescriptor, int load, int slot) {
            this.hookOwner = hookOwner;
            this.hook = hook;
            this.hookDescriptor = hookDescriptor;
            this.load = load;
            this.slot = slot;
        }

        /** A hook on the recorder with the receiver or an int first argument. */
        static EntryHook recorder(String hook, String hookDescriptor, int load) {
            return new EntryHook(RECORDER, hook, hookDescriptor, load, load == Opcodes.ALOAD ? 0 : 1);
        }

        /** A hook of `hookOwner` that takes an Object: the receiver or the first argument. */
        static EntryHook object(String hookOwner, String hook, int slot) {
            return new EntryHook(hookOwner, hook, "(Ljava/lang/Object;)V", Opcodes.ALOAD, slot);
        }
    }

    /** The class with the methods `hooks` names (by name and descriptor) calling their hook first. */
    private static byte[] atEntry(byte[] bytes, Map<String, EntryHook> hooks) {
        return rewrite(bytes, new MethodRewrite() {
            @Override
            MethodVisitor apply(String name, String desc, MethodVisitor mv) {
                EntryHook h = hooks.get(name + desc);
                return h == null ? mv : new MethodVisitor(Opcodes.ASM9, mv) {
                    @Override
                    public void visitCode() {
                        super.visitCode();
                        super.visitVarInsn(h.load, h.slot);
                        super.visitMethodInsn(Opcodes.INVOKESTATIC, h.hookOwner, h.hook, h.hookDescriptor, false);
                    }
                };
            }
        });
    }

    /** An instance method (of `owner`) whose calls are bracketed: Recorder.`enterHook`(locals
     * `slots`…) first (when not null), and Recorder.`exitHook`(thrown, [the value returned
     * when `withResult`,] locals `slots`…) as it returns (thrown null) or throws (then
     * rethrows; the value null); the locals and the value go as Objects. */
    private static byte[] around(byte[] bytes, String owner, String method, String descriptor, String enterHook,
                                 String exitHook, boolean withResult, int... slots) {
        String objects = "Ljava/lang/Object;".repeat(slots.length);
        String exitDescriptor = "(Ljava/lang/Throwable;" + (withResult ? "Ljava/lang/Object;" : "") + objects + ")V";
        Object[] locals = initialLocals(owner, false, Type.getArgumentTypes(descriptor));
        return rewrite(bytes, new MethodRewrite() {
            @Override
            MethodVisitor apply(String name, String desc, MethodVisitor mv) {
                return !(name.equals(method) && desc.equals(descriptor)) ? mv : new MethodVisitor(Opcodes.ASM9, mv) {
                    private final Label start = new Label();

                    @Override
                    public void visitCode() {
                        super.visitCode();
                        if (enterHook != null) {
                            loadSlots();
                            super.visitMethodInsn(Opcodes.INVOKESTATIC, RECORDER, enterHook, "(" + objects + ")V", false);
                        }
                        super.visitLabel(start);
                    }

                    @Override
                    public void visitInsn(int opcode) {
                        if (opcode >= Opcodes.IRETURN && opcode <= Opcodes.RETURN) {
                            if (withResult) { // [value] -> [value, null, value]
                                super.visitInsn(Opcodes.DUP);
                                super.visitInsn(Opcodes.ACONST_NULL);
                                super.visitInsn(Opcodes.SWAP);
                            } else {
                                super.visitInsn(Opcodes.ACONST_NULL);
                            }
                            exit();
                        }
                        super.visitInsn(opcode);
                    }

                    @Override
                    public void visitMaxs(int maxStack, int maxLocals) {
                        Label handler = new Label();
                        super.visitLabel(handler);
                        super.visitFrame(Opcodes.F_FULL, locals.length, locals, 1, new Object[] {"java/lang/Throwable"});
                        super.visitInsn(Opcodes.DUP);
                        if (withResult) {
                            super.visitInsn(Opcodes.ACONST_NULL);
                        }
                        exit();
                        super.visitInsn(Opcodes.ATHROW);
                        super.visitTryCatchBlock(start, handler, handler, null); // last: the method's own come first
                        super.visitMaxs(maxStack + slots.length + 3, maxLocals);
                    }

                    private void exit() {
                        loadSlots();
                        super.visitMethodInsn(Opcodes.INVOKESTATIC, RECORDER, exitHook, exitDescriptor, false);
                    }

                    private void loadSlots() {
                        for (int slot : slots) {
                            super.visitVarInsn(Opcodes.ALOAD, slot);
                        }
                    }
                };
            }
        });
    }

    /** A method whose first argument is first replaced by what Recorder.`argumentHook`
     * returns for it, and whose returned value by what Recorder.`resultHook` returns for it
     * (Objects: the hooks, on the boot class path, may not see the classes; casts put the
     * descriptor's types back). */
    private static byte[] filtered(byte[] bytes, String method, String descriptor, String argumentHook, String resultHook) {
        String argumentType = Type.getArgumentTypes(descriptor)[0].getInternalName();
        String resultType = Type.getReturnType(descriptor).getInternalName();
        return rewrite(bytes, new MethodRewrite() {
            @Override
            MethodVisitor apply(String name, String desc, MethodVisitor mv) {
                return !(name.equals(method) && desc.equals(descriptor)) ? mv : new MethodVisitor(Opcodes.ASM9, mv) {
                    @Override
                    public void visitCode() {
                        super.visitCode();
                        super.visitVarInsn(Opcodes.ALOAD, 1);
                        filter(argumentHook, argumentType);
                        super.visitVarInsn(Opcodes.ASTORE, 1);
                    }

                    @Override
                    public void visitInsn(int opcode) {
                        if (opcode == Opcodes.ARETURN) {
                            filter(resultHook, resultType);
                        }
                        super.visitInsn(opcode);
                    }

                    private void filter(String hook, String type) {
                        super.visitMethodInsn(Opcodes.INVOKESTATIC, RECORDER, hook,
                                "(Ljava/lang/Object;)Ljava/lang/Object;", false);
                        super.visitTypeInsn(Opcodes.CHECKCAST, type);
                    }
                };
            }
        });
    }

    /** How `rewrite` treats one method (a class, not a lambda: see Redactor). */
    private abstract static class MethodRewrite {
        abstract MethodVisitor apply(String name, String descriptor, MethodVisitor mv);
    }

    /** The class with some methods rewritten, each given one more stack slot. */
    private static byte[] rewrite(byte[] bytes, MethodRewrite rewrite) {
        ClassWriter writer = new ClassWriter(0);
        new ClassReader(bytes).accept(new ClassVisitor(Opcodes.ASM9, writer) {
            @Override
            public MethodVisitor visitMethod(int access, String name, String descriptor, String signature, String[] exceptions) {
                MethodVisitor mv = super.visitMethod(access, name, descriptor, signature, exceptions);
                MethodVisitor rewritten = rewrite.apply(name, descriptor, mv);
                return rewritten == mv ? mv : new MethodVisitor(Opcodes.ASM9, rewritten) {
                    @Override
                    public void visitMaxs(int maxStack, int maxLocals) {
                        super.visitMaxs(maxStack + 1, maxLocals);
                    }
                };
            }
        }, 0);
        return writer.toByteArray();
    }
}
