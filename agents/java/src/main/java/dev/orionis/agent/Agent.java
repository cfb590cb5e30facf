package dev.orionis.agent;

import java.io.File;
import java.lang.instrument.Instrumentation;
import java.util.jar.JarFile;

/** The -javaagent entry point (`orion run` puts it in JAVA_TOOL_OPTIONS). The agent runs
 * from the boot class path, so that the JDK classes it instruments and every class loader's
 * classes reach one recorder: the manifest's Boot-Class-Path puts the jar there as the JVM
 * starts (class data sharing stays on); a jar renamed from orion-agent.jar is appended now,
 * which costs the JVM its class data sharing (and a warning). A failure to start leaves the
 * program running as it would without the agent, with one line on stderr. */
public final class Agent {
    private Agent() {
    }

    public static void premain(String arguments, Instrumentation inst) {
        if ("off".equals(System.getenv("ORION_MODE"))) {
            return;
        }
        try {
            if (Agent.class.getClassLoader() != null) {
                File jar = new File(Agent.class.getProtectionDomain().getCodeSource().getLocation().toURI());
                inst.appendToBootstrapClassLoaderSearch(new JarFile(jar));
            }
            Class.forName("dev.orionis.agent.Installer", true, null)
                    .getDeclaredMethod("install", Instrumentation.class)
                    .invoke(null, inst);
        } catch (Exception | LinkageError e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            System.err.println("orion: the Java agent did not start: " + cause);
        }
    }

    public static void agentmain(String arguments, Instrumentation inst) {
        premain(arguments, inst);
    }
}
