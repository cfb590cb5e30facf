package dev.orionis.agent;

import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** What every trace of this process shares: the settings, the redactor, the process as the
 * header describes it and its environment snapshot (spec 4.1). */
final class Context {
    /** The variables the header records: every agent's common list, then Java's own;
     * ORION_ENV_ALLOW adds names or prefixes (ending in `*`). */
    private static final List<String> SELECTED = Arrays.asList(
            "PATH", "PWD", "LD_LIBRARY_PATH", "LD_PRELOAD", "LANG", "LANGUAGE", "LC_*", "TZ",
            "CI", "CONTINUOUS_INTEGRATION", "GITHUB_*", "RUNNER_*", "GITLAB_CI", "CI_*",
            "BUILDKITE*", "CIRCLE*", "TRAVIS*", "JENKINS_URL", "BUILD_*", "TF_BUILD",
            "CC", "CXX", "CFLAGS", "CXXFLAGS", "CPPFLAGS", "LDFLAGS", "MAKEFLAGS",
            "SOURCE_DATE_EPOCH", "ORION_*",
            "JAVA_HOME", "JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS", "CLASSPATH",
            "MAVEN_OPTS", "MAVEN_HOME", "GRADLE_OPTS", "GRADLE_USER_HOME");
    private static final String[][] RECORD_TYPES = {
        {"0", "header", "meta"}, {"1", "string", "id,text"},
        {"2", "function", "id,name,module,file,line,addr?"},
        {"3", "lane", "id,name,kind,native_id,parent"},
        {"4", "call", "dt,lane,fn,args?,site?"}, {"5", "return", "dt,lane,value?"},
        {"6", "exception", "dt,lane,kind,exc_type,message,line"},
        {"7", "unwind", "dt,lane,line,locals?"},
        {"8", "crash", "dt,lane,kind,reason,message,detail"},
        {"9", "stack", "dt,lane,reason,frames"}, {"10", "event", "dt,lane,kind,attrs"},
        {"11", "module", "id,path,base,build_id,size?,mtime?"}, {"15", "end", "summary"},
    };

    final Settings settings;
    final Redactor secrets;
    final Values values;
    final long pid = processId();
    final List<String> argv;
    final String host;
    private final Map<String, Object> vars = new TreeMap<>();
    private int omitted;
    private boolean warned;

    Context(Settings settings, Map<String, String> env) {
        this.settings = settings;
        this.secrets = new Redactor(env);
        this.values = new Values(secrets);
        this.argv = secrets.scrubArgv(commandLine());
        host = hostName(env);
        List<String> allowed = new ArrayList<>(SELECTED);
        for (String extra : env.getOrDefault("ORION_ENV_ALLOW", "").split(",")) {
            if (!extra.isBlank()) {
                allowed.add(extra.trim());
            }
        }
        for (Map.Entry<String, String> e : env.entrySet()) {
            if (!selected(allowed, e.getKey())) {
                omitted++;
            } else if (secrets.looksSecret(e.getKey())) {
                Map<String, Object> redacted = new LinkedHashMap<>();
                redacted.put("t", "str");
                redacted.put("redacted", true);
                vars.put(e.getKey(), redacted);
            } else {
                vars.put(e.getKey(), secrets.scrub(e.getValue()));
            }
        }
    }

    // The process's facts from /proc where it exists: ProcessHandle and java.nio.file's
    // channels would load and run enough code to cost every JVM start-up time.

    private static byte[] procFile(String name) throws IOException {
        try (FileInputStream in = new FileInputStream("/proc/" + name)) {
            return in.readAllBytes();
        }
    }

    private static long processId() {
        try {
            return Long.parseLong(new File("/proc/self").getCanonicalFile().getName());
        } catch (IOException | RuntimeException e) {
            return ProcessHandle.current().pid();
        }
    }

    private static String executable() {
        File exe = new File("/proc/self/exe");
        try {
            if (exe.exists()) {
                return exe.getCanonicalPath();
            }
        } catch (IOException | RuntimeException e) {
            // as the JVM reports it
        }
        return ProcessHandle.current().info().command().orElse(null);
    }

    /** The kernel's host name (a DNS lookup through InetAddress could take seconds). */
    private static String hostName(Map<String, String> env) {
        try {
            return new String(procFile("sys/kernel/hostname"), StandardCharsets.UTF_8).trim();
        } catch (IOException | RuntimeException e) {
            return env.get("HOSTNAME");
        }
    }

    private static boolean selected(List<String> patterns, String name) {
        for (String p : patterns) {
            if (p.endsWith("*") ? name.startsWith(p.substring(0, p.length() - 1)) : p.equals(name)) {
                return true;
            }
        }
        return false;
    }

    /** The command as typed (/proc/self/cmdline), else as the JVM reports it. */
    private static List<String> commandLine() {
        try {
            byte[] raw = procFile("self/cmdline");
            String text = new String(raw, StandardCharsets.UTF_8);
            if (text.endsWith("\0")) {
                text = text.substring(0, text.length() - 1);
            }
            return Arrays.asList(text.split("\0", -1));
        } catch (IOException | RuntimeException e) {
            List<String> argv = new ArrayList<>();
            ProcessHandle.Info info = ProcessHandle.current().info();
            argv.add(info.command().orElse("java"));
            argv.addAll(Arrays.asList(info.arguments().orElse(new String[0])));
            return argv;
        }
    }

    Map<String, Object> header(Trace trace) {
        Map<String, Object> h = new LinkedHashMap<>();
        h.put("format", "otrace");
        h.put("version", Arrays.asList(1, 0));
        h.put("trace_id", trace.id);
        Map<String, Object> agent = new LinkedHashMap<>();
        agent.put("language", "java");
        agent.put("name", "orion-java");
        agent.put("version", Recorder.VERSION);
        h.put("agent", agent);
        h.put("mode", settings.modeName());
        h.put("start_ns", trace.startNs);
        Map<String, Object> process = new LinkedHashMap<>();
        process.put("pid", pid);
        process.put("argv", argv);
        process.put("cwd", System.getProperty("user.dir"));
        process.put("executable", executable());
        process.put("host", host);
        h.put("process", process);
        Map<String, Object> env = new LinkedHashMap<>();
        env.put("os", System.getProperty("os.name").toLowerCase());
        env.put("machine", System.getProperty("os.arch"));
        env.put("runtime", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        env.put("vars", vars);
        env.put("vars_omitted", omitted);
        h.put("env", env);
        List<Object> records = new ArrayList<>();
        for (String[] r : RECORD_TYPES) {
            Map<String, Object> type = new LinkedHashMap<>();
            int code = Integer.parseInt(r[0]);
            type.put("type", code);
            type.put("name", r[1]);
            type.put("columns", Arrays.asList(r[2].split(",")));
            type.put("timed", code >= 4 && code <= 10);
            records.add(type);
        }
        h.put("records", records);
        if (settings.service != null) {
            h.put("service", settings.service);
        }
        if (trace.name != null) {
            h.put("name", trace.name);
        }
        if (settings.parentTrace != null) {
            Map<String, Object> parent = new LinkedHashMap<>();
            parent.put("trace_id", settings.parentTrace);
            parent.put("span_id", settings.parentSpan);
            h.put("parent", parent);
        }
        if (trace.windowed) {
            h.put("window", "ring");
        }
        return h;
    }

    /** One line on stderr, once: a trace that cannot be written must not go unnoticed, and
     * must not flood the program's own output either. */
    synchronized void warn(String message) {
        if (!warned) {
            warned = true;
            System.err.println("orion: " + message);
        }
    }
}
