package dev.orionis.agent;

import java.io.File;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
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
    /** Secrets recognised by their shape (spec 7, as orion/agent/values.py's _SHAPES): a URL's
     * password, the value of a query parameter or header line whose name looks secret
     * (`?session=`, `Cookie: `, `X-Api-Key: `), a bearer token, GitHub, AWS and Slack tokens,
     * JSON Web Tokens. */
    private static final Pattern SHAPES = Pattern.compile(
            "(?<=[A-Za-z0-9])(?<url>://[^/\\s:@]*:)[^/\\s@]+(?=@)"
                    + "|(?<query>[?&;](?<parameter>[A-Za-z][\\w.-]*)=)[^&#;\\s\"'<>]+"
                    + "|(?<header>(?<![\\w-])(?<field>(?i:authorization|cookie)|[A-Za-z][A-Za-z0-9]*"
                    + "(?:-[A-Za-z0-9]+)+):[ \\t]*(?:(?i:basic|bearer|digest|token|negotiate)[ \\t]+)?)"
                    + "[^\\r\\n\"']+"
                    + "|(?<bearer>\\b(?i:bearer)\\s+)[\\w.~+/=-]{8,}"
                    + "|\\bgh[pousr]_[A-Za-z0-9]{20,}|\\bgithub_pat_\\w{20,}|\\b(?:AKIA|ASIA)[A-Z0-9]{16}\\b"
                    + "|\\bxox[abposr]-[A-Za-z0-9-]{10,}|\\beyJ[\\w-]{8,}\\.eyJ[\\w-]{8,}\\.[\\w-]*");
    /** What a header line's shape needs: a hyphenated word, Authorization or Cookie, then `:`. */
    private static final Pattern HEADER_HINT = Pattern.compile(
            "[A-Za-z0-9]-[A-Za-z0-9-]*:|(?i:authorization|cookie):");
    private static final Pattern URL_PASSWORD = Pattern.compile("(?<=[A-Za-z0-9])://[^/\\s:@]*:([^/\\s@]+)@");
    private static final Pattern OPTION = Pattern.compile("(--?)([A-Za-z][\\w.-]*)(=.*)?", Pattern.DOTALL);
    private static final Pattern NOT_A_NAME = Pattern.compile("[^A-Za-z_.-]");

    private final List<String> words = new ArrayList<>();
    private static final int VERDICTS_MAX = 4096;
    private final ConcurrentHashMap<String, Boolean> verdicts = new ConcurrentHashMap<>();
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
            rememberUrlPasswords(e.getValue());
        }
    }

    /** A URL's password is scrubbed wherever it appears alone later (`pw-1234` after
     * `postgres://app:pw-1234@db` was in DATABASE_URL or on the command line). */
    private void rememberUrlPasswords(String text) {
        if (text != null && text.contains("://")) {
            Matcher m = URL_PASSWORD.matcher(text);
            while (m.find()) {
                rememberSecret(m.group(1));
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
     * `author`), the shell's PWD and OLDPWD aside. The verdicts are kept: the same parameter
     * and field names come back at every capture (map keys may not: the cache stops growing
     * at VERDICTS_MAX names). */
    boolean looksSecret(String name) {
        if (name == null) {
            return false;
        }
        Boolean known = verdicts.get(name);
        if (known != null) {
            return known;
        }
        boolean secret = judge(name);
        if (verdicts.size() < VERDICTS_MAX) {
            verdicts.put(name, secret);
        }
        return secret;
    }

    private boolean judge(String name) {
        if (name.equals("PWD") || name.equals("OLDPWD")) {
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

    /** No lambda on the start-up path: the first one costs a JVM tens of milliseconds. */
    private static final Comparator<String> LONGEST_FIRST = new Comparator<String>() {
        @Override
        public int compare(String a, String b) {
            return b.length() - a.length();
        }
    };

    /** A value the trace redacts is also scrubbed from free text later (spec 7). */
    synchronized void rememberSecret(String value) {
        if (value == null || value.length() < MIN_SCRUBBED || values.size() >= MAX_VALUES
                || values.contains(value) || value.contains("/") && new File(value).exists()) {
            return;
        }
        values.add(value);
        values.sort(LONGEST_FIRST);
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
        return mayHoldShape(text) ? hideShapes(text) : text;
    }

    /** Each secret-shaped match replaced; a query parameter's or header's value only when its
     * name looks secret (`?session=<redacted>&page=2`; not `X-Request-Id: 42`, whose value is
     * searched for other shapes). */
    private String hideShapes(String text) {
        Matcher m = SHAPES.matcher(text);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String named = m.group("query") != null ? m.group("query") : m.group("header");
            String kept;
            if (named != null) {
                String name = m.group("parameter") != null ? m.group("parameter") : m.group("field");
                kept = named + (looksSecret(name) ? REDACTED : hideShapes(m.group().substring(named.length())));
            } else {
                String prefix = m.group("url") != null ? m.group("url") : m.group("bearer");
                kept = (prefix == null ? "" : prefix) + REDACTED;
            }
            m.appendReplacement(out, Matcher.quoteReplacement(kept));
        }
        m.appendTail(out);
        return out.toString();
    }

    /** Most strings hold none of what every shape holds and skip the regular expression. */
    private static boolean mayHoldShape(String t) {
        return t.length() >= 4 && (t.contains("://") || t.contains("eyJ") || t.contains("AKIA")
                || t.contains("ASIA") || t.contains("xox") || t.contains("earer") || t.contains("EARER")
                || t.contains("_") && t.contains("gh")
                || t.contains("=") && (t.contains("?") || t.contains("&") || t.contains(";"))
                || t.contains(":") && HEADER_HINT.matcher(t).find());
    }

    /** The word after a bare `-p` is a password (`sshpass -p`) when it holds a digit or a
     * symbol, but not a number or port, a `name:value`, a path or an existing file; a plain
     * name (`-p xdist`, `mkdir -p build`) is not one. */
    static boolean isShortPassword(String word) {
        return !(word.startsWith("-") || isNumber(word) || word.contains("/")
                || word.contains(":") || new File(word).exists()) && NOT_A_NAME.matcher(word).find();
    }

    private static boolean isNumber(String word) {
        for (int i = 0; i < word.length(); i++) {
            if (!Character.isDigit(word.charAt(i))) {
                return false;
            }
        }
        return true;
    }

    /** The command line with the value of a secret-named option hidden (`--api-key=<redacted>`,
     * or the word after `--password` or a password-like `-p`) and every word scrubbed; those
     * values and URL passwords are scrubbed from free text from now on. */
    List<String> scrubArgv(List<String> argv) {
        Set<Integer> whole = new HashSet<>();
        Map<Integer, String> inline = new HashMap<>();
        for (int i = 0; i < argv.size(); i++) {
            String arg = argv.get(i);
            Matcher option = OPTION.matcher(arg);
            if (whole.contains(i) || !option.matches()) {
                continue;
            }
            if (looksSecret(option.group(2))) {
                if (option.group(3) == null) {
                    whole.add(i + 1);
                } else {
                    inline.put(i, option.group(3).substring(1));
                }
            } else if (arg.equals("-p") && i + 1 < argv.size() && isShortPassword(argv.get(i + 1))) {
                whole.add(i + 1);
            }
        }
        for (int i : whole) {
            if (i < argv.size()) {
                rememberSecret(argv.get(i));
            }
        }
        for (String value : inline.values()) {
            rememberSecret(value);
        }
        for (String arg : argv) {
            rememberUrlPasswords(arg);
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i < argv.size(); i++) {
            String arg = argv.get(i);
            if (whole.contains(i)) {
                out.add(REDACTED);
                continue;
            }
            if (inline.containsKey(i)) {
                arg = arg.substring(0, arg.length() - inline.get(i).length()) + REDACTED;
            }
            out.add(scrub(arg));
        }
        return out;
    }
}
