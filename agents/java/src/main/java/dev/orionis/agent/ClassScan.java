package dev.orionis.agent;

import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.Handle;
import org.objectweb.asm.Label;
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Opcodes;
import org.objectweb.asm.Type;
import java.util.HashMap;
import java.util.Map;

/** What the method descriptors do not give: each method's source file, first line and
 * parameter names (from the local variable table that javac -g and Maven write, or from
 * -parameters), read from a class file before the Weaver numbers its methods. */
final class ClassScan {
    /** A method's source facts. */
    static final class MethodFacts {
        int firstLine;
        String[] parameters;
        /** Its code only loads arguments or constants, gets or sets fields and returns
         * (getters, setters, record accessors): error mode leaves it uninstrumented. */
        boolean accessor = true;
        int instructions;
    }

    /** The longest code that still counts as an accessor's (a setter is 4 instructions). */
    private static final int ACCESSOR_INSTRUCTIONS = 6;

    /** A class's facts: its source file and, by name + descriptor, its methods'. */
    static final class ClassFacts {
        String sourceFile;
        final Map<String, MethodFacts> methods = new HashMap<>();
    }

    private ClassScan() {
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

                    /** An instruction; `fits` when an accessor may hold it. */
                    private void instruction(boolean fits) {
                        method.accessor &= fits && ++method.instructions <= ACCESSOR_INSTRUCTIONS;
                    }

                    @Override
                    public void visitInsn(int opcode) {
                        instruction(opcode >= Opcodes.ACONST_NULL && opcode <= Opcodes.DCONST_1
                                || opcode >= Opcodes.IRETURN && opcode <= Opcodes.RETURN);
                    }

                    @Override
                    public void visitVarInsn(int opcode, int varIndex) {
                        instruction(opcode >= Opcodes.ILOAD && opcode <= Opcodes.ALOAD);
                    }

                    @Override
                    public void visitFieldInsn(int opcode, String owner, String fieldName, String fieldDescriptor) {
                        instruction(true);
                    }

                    @Override
                    public void visitIntInsn(int opcode, int operand) {
                        instruction(false);
                    }

                    @Override
                    public void visitTypeInsn(int opcode, String type) {
                        instruction(false);
                    }

                    @Override
                    public void visitMethodInsn(int opcode, String owner, String methodName, String methodDescriptor,
                                                boolean isInterface) {
                        instruction(false);
                    }

                    @Override
                    public void visitInvokeDynamicInsn(String indyName, String indyDescriptor, Handle bootstrap,
                                                       Object... arguments) {
                        instruction(false);
                    }

                    @Override
                    public void visitJumpInsn(int opcode, Label label) {
                        instruction(false);
                    }

                    @Override
                    public void visitLdcInsn(Object value) {
                        instruction(false);
                    }

                    @Override
                    public void visitIincInsn(int varIndex, int increment) {
                        instruction(false);
                    }

                    @Override
                    public void visitTableSwitchInsn(int min, int max, Label dflt, Label... labels) {
                        instruction(false);
                    }

                    @Override
                    public void visitLookupSwitchInsn(Label dflt, int[] keys, Label[] labels) {
                        instruction(false);
                    }

                    @Override
                    public void visitMultiANewArrayInsn(String arrayDescriptor, int numDimensions) {
                        instruction(false);
                    }

                    @Override
                    public void visitEnd() {
                        method.accessor &= method.instructions > 0; // abstract and native methods have none
                    }

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
