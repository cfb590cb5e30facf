package dev.orionis.agent;

import net.bytebuddy.jar.asm.ClassReader;
import net.bytebuddy.jar.asm.ClassVisitor;
import net.bytebuddy.jar.asm.Label;
import net.bytebuddy.jar.asm.MethodVisitor;
import net.bytebuddy.jar.asm.Opcodes;
import net.bytebuddy.jar.asm.Type;
import java.lang.instrument.ClassFileTransformer;
import java.security.ProtectionDomain;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** What Byte Buddy's descriptions do not give: each method's source file, first line and
 * parameter names (from the local variable table that javac -g and Maven write, or from
 * -parameters). A transformer registered before Byte Buddy's reads them from the class file
 * of every class that will be instrumented, and the advice's function number is made from
 * them when the class is instrumented right after. */
final class ClassScan implements ClassFileTransformer {
    /** A method's source facts. */
    static final class MethodFacts {
        int firstLine;
        String[] parameters;
    }

    /** A class's facts: its source file and, by name + descriptor, its methods'. */
    static final class ClassFacts {
        String sourceFile;
        final Map<String, MethodFacts> methods = new HashMap<>();
    }

    private static final Map<String, ClassFacts> PENDING = new ConcurrentHashMap<>();
    private final Scope scope;

    ClassScan(Scope scope) {
        this.scope = scope;
    }

    /** The facts of a class scanned and not yet instrumented. */
    static ClassFacts facts(String className) {
        return PENDING.get(className);
    }

    static void forget(String className) {
        PENDING.remove(className);
    }

    @Override
    public byte[] transform(ClassLoader loader, String internalName, Class<?> redefined,
                            ProtectionDomain domain, byte[] bytes) {
        if (internalName == null || !scope.traced(internalName.replace('/', '.'), loader, domain)) {
            return null;
        }
        try {
            PENDING.put(internalName.replace('/', '.'), scan(bytes));
        } catch (RuntimeException e) {
            // an unreadable class is instrumented without lines and names
        }
        return null;
    }

    static ClassFacts scan(byte[] bytes) {
        ClassFacts facts = new ClassFacts();
        new ClassReader(bytes).accept(new ClassVisitor(Opcodes.ASM9) {
            @Override
            public void visitSource(String source, String debug) {
                facts.sourceFile = source;
            }

            @Override
            public MethodVisitor visitMethod(int access, String name, String descriptor, String signature, String[] exceptions) {
                MethodFacts method = new MethodFacts();
                Type[] args = Type.getArgumentTypes(descriptor);
                method.parameters = new String[args.length];
                int[] slots = new int[args.length];
                int slot = (access & Opcodes.ACC_STATIC) != 0 ? 0 : 1;
                for (int i = 0; i < args.length; i++) {
                    slots[i] = slot;
                    slot += args[i].getSize();
                }
                facts.methods.put(name + descriptor, method);
                return new MethodVisitor(Opcodes.ASM9) {
                    private int parameterIndex;

                    @Override
                    public void visitParameter(String parameterName, int parameterAccess) {
                        if (parameterIndex < method.parameters.length && parameterName != null) {
                            method.parameters[parameterIndex] = parameterName;
                        }
                        parameterIndex++;
                    }

                    @Override
                    public void visitLineNumber(int line, Label start) {
                        if (method.firstLine == 0 || line < method.firstLine) {
                            method.firstLine = line;
                        }
                    }

                    @Override
                    public void visitLocalVariable(String varName, String varDescriptor, String varSignature,
                                                   Label start, Label end, int index) {
                        for (int i = 0; i < slots.length; i++) {
                            if (slots[i] == index && method.parameters[i] == null) {
                                method.parameters[i] = varName;
                            }
                        }
                    }
                };
            }
        }, ClassReader.SKIP_FRAMES);
        return facts;
    }
}
