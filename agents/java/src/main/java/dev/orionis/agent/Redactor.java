package dev.orionis.agent;

import java.io.File;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Secrets (spec section 7): names that look secret are redacted wherever a value is
 * captured, and secret values and secret-shaped words are scrubbed from free text. The
 * rules are those of every agent (orion/agent/values.py, agents/go/redact.go). */
final class Redactor {
    static final String REDACTED = "<redacted>";
    private static final List<String> DEFAULT_WORDS = Arrays.asList(
            "password", "passwd", "passphrase", "pwd", "secret", "token", "api_key", "apikey",
            "access_key", "auth", "authorization", "cookie", "session", "private_key", "privatekey",
            "credential", "credentials", "signature", "dsn");
    /** A shorter secret value would hide innocent words in free text. */
    private static final int MIN_SCRUBBED = 6;
    private static final int MAX_VALUES = 64;
    private static final Pattern SHAPES = Pattern.compile(
            "([A-Za-z0-9]://[^/\\s:@]*:)[^/\\s@]+@"
                    + "|\\b((?i:bearer)\\s+)[\\w.~+/=-]{8,}"
                    + "|\\bgh[pousr]_[A-Za-z0-9]{20,}|\\bgithub_pat_\\w{20,}|\\b(?:AKIA|ASIA)[A-Z0-9]{16}\\b"
                    + "|\\bxox[abposr]-[A-Za-z0-9-]{10,}|\\beyJ[\\w-]{8,}\\.eyJ[\\w-]{8,}\\.[\\w-]*");

    private final List<String> words = new ArrayList<>();
    /** Secret values to scrub from free text, longest first; grows as arguments are redacted. */
    private final List<String> values = new ArrayList<>();

    Redactor(Map<String, String> env) {
        String custom = env.get("ORION_REDACT");
        if (custom != null && !custom.isBlank()) {
            for (String w : custom.split(",")) {
                String words = nameWords(w);
                if (!words.isEmpty()) {
                    this.words.add(words);
                }
            }
        } else {
            words.addAll(DEFAULT_WORDS);
        }
        for (Map.Entry<String, String> e : env.entrySet()) {
            if (looksSecret(e.getKey())) {
                rememberSecret(e.getValue());
            }
        }
    }

    /** `authToken`, `AUTH-TOKEN` and `auth.token` all give `auth_token`. */
    static String nameWords(String name) {
        StringBuilder out = new StringBuilder(name.length() + 4);
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c == '_' || c == '-' || c == '.' || c == ' ' || c == '\t') {
                if (out.length() > 0 && out.charAt(out.length() - 1) != '_') {
                    out.append('_');
                }
                continue;
            }
            boolean upper = c >= 'A' && c <= 'Z';
            if (upper && out.length() > 0 && out.charAt(out.length() - 1) != '_') {
                char prev = name.charAt(i - 1);
                boolean prevLowerOrDigit = prev >= 'a' && prev <= 'z' || prev >= '0' && prev <= '9';
                boolean prevUpper = prev >= 'A' && prev <= 'Z';
                boolean nextLower = i + 1 < name.length() && name.charAt(i + 1) >= 'a' && name.charAt(i + 1) <= 'z';
                if (prevLowerOrDigit || prevUpper && nextLower) {
                    out.append('_');
                }
            }
            out.append(upper ? (char) (c + ('a' - 'A')) : c);
        }
        int end = out.length();
        while (end > 0 && out.charAt(end - 1) == '_') {
            end--;
        }
        return out.substring(0, end);
    }

    /** One of the secret words is a whole word of the name (`db_password`, `authToken`; not
     * `author`), the shell's PWD and OLDPWD aside. */
    boolean looksSecret(String name) {
        if (name == null || name.equals("PWD") || name.equals("OLDPWD")) {
            return false;
        }
        String padded = "_" + nameWords(name) + "_";
        for (String w : words) {
            if (padded.contains("_" + w + "_")) {
                return true;
            }
        }
        return false;
    }

    /** A value the trace redacts is also scrubbed from free text later (spec 7). */
    synchronized void rememberSecret(String value) {
        if (value == null || value.length() < MIN_SCRUBBED || values.size() >= MAX_VALUES
                || values.contains(value) || new File(value).exists()) {
            return;
        }
        values.add(value);
        values.sort((a, b) -> b.length() - a.length());
    }

    synchronized boolean holdsSecretValue(String text) {
        for (String v : values) {
            if (text.contains(v)) {
                return true;
            }
        }
        return false;
    }

    /** Free text with secret values and secret-shaped words replaced by `<redacted>`. */
    String scrub(String text) {
        if (text == null) {
            return null;
        }
        synchronized (this) {
            for (String v : values) {
                if (text.contains(v)) {
                    text = text.replace(v, REDACTED);
                }
            }
        }
        if (!mayHoldShape(text)) {
            return text;
        }
        Matcher m = SHAPES.matcher(text);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String kept = m.group(1) != null ? m.group(1) + REDACTED + "@"
                    : m.group(2) != null ? m.group(2) + REDACTED : REDACTED;
            m.appendReplacement(out, Matcher.quoteReplacement(kept));
        }
        m.appendTail(out);
        return out.toString();
    }

    /** Most strings hold none of what every shape holds and skip the regular expression. */
    private static boolean mayHoldShape(String t) {
        return t.length() >= 7 && (t.contains("://") || t.contains("eyJ") || t.contains("AKIA")
                || t.contains("ASIA") || t.contains("xox") || t.contains("earer") || t.contains("EARER")
                || t.contains("_") && t.contains("gh"));
    }

    /** The command line with the value of a secret-named option hidden (`--api-key=<redacted>`,
     * or the word after `--password`) and every word scrubbed. */
    List<String> scrubArgv(List<String> argv) {
        List<String> out = new ArrayList<>();
        boolean hideNext = false;
        for (String arg : argv) {
            if (hideNext) {
                out.add(REDACTED);
                hideNext = false;
                continue;
            }
            if (arg.startsWith("-")) {
                String stripped = arg.replaceFirst("^-+", "");
                int eq = stripped.indexOf('=');
                String name = eq >= 0 ? stripped.substring(0, eq) : stripped;
                if (!name.isEmpty() && looksSecret(name)) {
                    if (eq < 0) {
                        hideNext = true;
                    } else {
                        arg = arg.substring(0, arg.length() - (stripped.length() - eq - 1)) + REDACTED;
                    }
                }
            }
            out.add(scrub(arg));
        }
        return out;
    }
}
