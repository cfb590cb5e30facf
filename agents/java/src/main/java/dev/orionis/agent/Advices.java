package dev.orionis.agent;

import net.bytebuddy.asm.Advice;
import net.bytebuddy.implementation.bytecode.assign.Assigner;

/** The advice Byte Buddy inlines into instrumented code. The argument array is built only
 * where it is read: in dev mode, and when an exception leaves the method. */
final class Advices {
    private Advices() {
    }

    /** Every method of the application's classes. */
    static final class Method {
        @Advice.OnMethodEnter
        static void enter(@FnId int fn, @Advice.This(optional = true) Object self, @Advice.AllArguments Object[] args) {
            if (Recorder.values) {
                Recorder.enterWithValues(fn, self, args);
            } else {
                Recorder.enter(fn);
            }
        }

        @Advice.OnMethodExit(onThrowable = Throwable.class)
        static void exit(@FnId int fn, @Advice.This(optional = true) Object self, @Advice.AllArguments Object[] args,
                         @Advice.Return(typing = Assigner.Typing.DYNAMIC) Object value, @Advice.Thrown Throwable thrown) {
            if (thrown != null) {
                Recorder.unwind(fn, self, args, thrown);
            } else if (Recorder.values) {
                Recorder.exitWithValue(fn, value);
            } else {
                Recorder.exit(fn);
            }
        }
    }

    /** Constructors: `this` exists only at their end, and Byte Buddy cannot catch what a
     * constructor throws (the recorder closes such a call when its caller unwinds). */
    static final class Constructor {
        @Advice.OnMethodEnter
        static void enter(@FnId int fn, @Advice.AllArguments Object[] args) {
            if (Recorder.values) {
                Recorder.enterWithValues(fn, null, args);
            } else {
                Recorder.enter(fn);
            }
        }

        @Advice.OnMethodExit
        static void exit(@FnId int fn) {
            Recorder.exit(fn);
        }
    }

    /** java.lang.Thread#start: the new thread's lane gets the starting thread's as parent. */
    static final class ThreadStart {
        @Advice.OnMethodEnter
        static void enter(@Advice.This Thread thread) {
            Recorder.threadStarting(thread);
        }
    }

    /** java.lang.Runtime#exit: the status System.exit asked for. */
    static final class RuntimeExit {
        @Advice.OnMethodEnter
        static void enter(@Advice.Argument(0) int status) {
            Recorder.exiting(status);
        }
    }

    /** The JUnit Platform's DefaultLauncher: every launcher gets the agent's listener. */
    static final class Launcher {
        @Advice.OnMethodExit
        static void exit(@Advice.This Object launcher) {
            JUnitListener.attach(launcher);
        }
    }
}
