package dev.orionis.agent;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** What every agent reads from the environment `orion run` / `orion test` give a process
 * (DESIGN.md, capture policy): mode, spool, report file, parent span, ring size. */
final class Settings {
    enum Mode { ERROR, DEV, SAFE, OFF }

    final Mode mode;
    final String spool;
    final String report;
    final String service;
    final String parentTrace;
    final String parentSpan;
    final int ring;
    /** Package prefixes traced although they come from jars (ORION_JAVA_INCLUDE). */
    final List<String> include;

    private Settings(Map<String, String> env) {
        mode = parseMode(env.get("ORION_MODE"));
        spool = resolveSpool(env);
        report = emptyToNull(env.get("ORION_REPORT"));
        service = emptyToNull(env.get("ORION_SERVICE"));
        String parent = env.getOrDefault("ORION_PARENT", "");
        boolean hasParent = parent.length() == 49 && parent.charAt(32) == '-';
        parentTrace = hasParent ? parent.substring(0, 32) : null;
        parentSpan = hasParent ? parent.substring(33) : null;
        int size = 20000;
        try {
            size = Math.max(16, Integer.parseInt(env.getOrDefault("ORION_RING", "20000").trim()));
        } catch (NumberFormatException ignored) {
            // the default
        }
        ring = size;
        include = new ArrayList<>();
        for (String prefix : env.getOrDefault("ORION_JAVA_INCLUDE", "").split(",")) {
            if (!prefix.isBlank()) {
                include.add(prefix.trim());
            }
        }
    }

    static Settings fromEnvironment() {
        return new Settings(System.getenv());
    }

    String modeName() {
        return mode.name().toLowerCase();
    }

    private static Mode parseMode(String value) {
        if (value == null) {
            return Mode.ERROR; // the default of every agent: cheapest, writes on failure
        }
        switch (value.trim()) {
            case "dev": return Mode.DEV;
            case "safe": return Mode.SAFE;
            case "off": return Mode.OFF;
            default: return Mode.ERROR;
        }
    }

    private static String emptyToNull(String s) {
        return s == null || s.isEmpty() ? null : s;
    }

    /** $ORION_SPOOL, else the nearest .orion/ upwards from the working directory, else the
     * user's data directory (DESIGN.md, CLI conventions). */
    static String resolveSpool(Map<String, String> env) {
        String home = env.getOrDefault("HOME", System.getProperty("user.home"));
        String explicit = env.get("ORION_SPOOL");
        if (explicit != null && !explicit.isEmpty()) {
            return explicit.startsWith("~") ? home + explicit.substring(1) : explicit;
        }
        Path dir = Paths.get(System.getProperty("user.dir")).toAbsolutePath();
        try {
            dir = dir.toRealPath();
        } catch (Exception ignored) {
            // the path as given
        }
        for (Path d = dir; d != null; d = d.getParent()) {
            if (Files.isDirectory(d.resolve(".orion"))) {
                return d.resolve(".orion").resolve("spool").toString();
            }
        }
        String xdg = env.get("XDG_DATA_HOME");
        String base = xdg != null && !xdg.isEmpty() ? xdg : home + File.separator + ".local/share";
        return base + File.separator + "orionis" + File.separator + "spool";
    }
}
