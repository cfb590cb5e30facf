package dev.orionis.agent;

import java.io.File;
import java.net.URL;
import java.security.CodeSource;
import java.security.ProtectionDomain;
import java.util.List;

/** Which classes are the application's own, and so traced: those loaded from a directory
 * (target/classes, target/test-classes, build/classes: a project being built and run), from
 * the jar that `java -jar` runs, or from a source file the launcher compiled; never the
 * JDK, the agent, build and test tools (Gradle's compiled build scripts too), or
 * dependencies in jars, unless ORION_JAVA_INCLUDE names their packages. */
final class Scope {
    private static final String[] NEVER = {
        "dev.orionis.agent.", "org.junit.", "junit.", "org.apache.maven.", "org.gradle.",
        "org.opentest4j.", "org.apiguardian.", "kotlin.", "scala.", "groovy.", "org.codehaus.groovy.",
    };

    private final List<String> include;
    private final String mainJar;
    /** Gradle's home: its caches hold the build scripts it compiles, classes in directories
     * that are the build's, not the application's. */
    private final String gradleHome;

    Scope(List<String> include, String mainJar) {
        this.include = include;
        this.mainJar = mainJar;
        String home = System.getenv("GRADLE_USER_HOME");
        if (home == null || home.isEmpty()) {
            home = System.getProperty("user.home") + "/.gradle";
        }
        this.gradleHome = new File(home).toURI().getPath();
    }

    boolean traced(String className, ClassLoader loader, ProtectionDomain domain) {
        if (loader == null || className.contains("$$") || Values.generatedName(className)
                || className.startsWith("java.")
                || className.startsWith("jdk.") || className.startsWith("sun.")) {
            return false;
        }
        for (String prefix : include) {
            if (className.startsWith(prefix)) {
                return true;
            }
        }
        for (String prefix : NEVER) {
            if (className.startsWith(prefix)) {
                return false;
            }
        }
        CodeSource source = domain == null ? null : domain.getCodeSource();
        URL location = source == null ? null : source.getLocation();
        if (location == null) {
            return false;
        }
        String path = location.getPath();
        if (!"file".equals(location.getProtocol())) {
            return false;
        }
        if (path.startsWith(gradleHome)) {
            return false;
        }
        return path.endsWith("/") || path.endsWith(".java") || mainJar != null && path.endsWith(mainJar);
    }
}
