package orion

import (
	"os"
	"regexp"
	"sort"
	"strings"
)

// Secrets (spec section 7): names that look secret are redacted wherever a value is
// captured, and the values of secret environment variables are scrubbed from free text.

var defaultSecretWords = []string{
	"password", "passwd", "passphrase", "pwd", "secret", "token", "api_key", "apikey",
	"access_key", "auth", "authorization", "cookie", "session", "private_key", "privatekey",
	"credential", "credentials", "signature", "dsn",
}

const redactedText = "<redacted>"

// minScrubbed: a shorter secret value would hide innocent words in free text.
const minScrubbed = 6

type redactor struct {
	words  []string // in nameWords form
	values []string // secret values scrubbed from free text, longest first
}

func newRedactor() *redactor {
	r := &redactor{}
	if custom := os.Getenv("ORION_REDACT"); custom != "" {
		for _, w := range strings.Split(custom, ",") {
			if w = nameWords(w); w != "" {
				r.words = append(r.words, w)
			}
		}
	} else {
		r.words = defaultSecretWords
	}
	// The values scrubbed from free text (as orion/agent/values.py startup_secret_values):
	// secret environment variables' and command-line options' values, and every URL's
	// password in the environment or on the command line.
	var found []string
	for _, kv := range os.Environ() {
		name, value, _ := strings.Cut(kv, "=")
		if r.looksSecret(name) {
			found = append(found, value)
		}
		found = append(found, urlPasswords(value)...)
	}
	hidden, inline := r.secretOptions(os.Args)
	for i, arg := range os.Args {
		if hidden[i] {
			found = append(found, arg)
		} else if value, ok := inline[i]; ok {
			found = append(found, value)
		}
		found = append(found, urlPasswords(arg)...)
	}
	seen := map[string]bool{}
	for _, value := range found {
		if len(value) >= minScrubbed && !seen[value] && !(strings.Contains(value, "/") && pathExists(value)) {
			seen[value] = true
			r.values = append(r.values, value)
		}
	}
	sort.SliceStable(r.values, func(i, j int) bool { return len(r.values[i]) > len(r.values[j]) })
	return r
}

var urlPassword = regexp.MustCompile(`[A-Za-z0-9]://[^/\s:@]*:([^/\s@]+)@`)

func urlPasswords(text string) []string {
	if !strings.Contains(text, "://") {
		return nil
	}
	var out []string
	for _, m := range urlPassword.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

func pathExists(s string) bool {
	_, err := os.Stat(s)
	return err == nil
}

// nameWords lower-cases a name and joins its words with `_`: `authToken`, `AUTH-TOKEN` and
// `auth.token` all give `auth_token` (as orion/agent/values.py name_words).
func nameWords(name string) string {
	out := make([]byte, 0, len(name)+4)
	isUpper := func(c byte) bool { return c >= 'A' && c <= 'Z' }
	isLowerOrDigit := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '_' || c == '-' || c == '.' || c == ' ' || c == '\t' {
			if len(out) > 0 && out[len(out)-1] != '_' {
				out = append(out, '_')
			}
			continue
		}
		if isUpper(c) && len(out) > 0 && out[len(out)-1] != '_' &&
			(isLowerOrDigit(name[i-1]) ||
				(isUpper(name[i-1]) && i+1 < len(name) && name[i+1] >= 'a' && name[i+1] <= 'z')) {
			out = append(out, '_')
		}
		if isUpper(c) {
			c += 'a' - 'A'
		}
		out = append(out, c)
	}
	return strings.TrimRight(string(out), "_")
}

// looksSecret: one of the secret words is a whole word of the name (`db_password`,
// `authToken`; not `author`), the shell's PWD and OLDPWD aside.
func (r *redactor) looksSecret(name string) bool {
	if name == "PWD" || name == "OLDPWD" {
		return false
	}
	words := "_" + nameWords(name) + "_"
	for _, w := range r.words {
		if strings.Contains(words, "_"+w+"_") {
			return true
		}
	}
	return false
}

// secretShapes are words that are secrets whatever their name (as orion/agent/values.py
// _SHAPES): a URL's password, a bearer, the value of a query parameter or of a header line
// whose name looks secret (`?session=`, `Cookie: `, `X-Api-Key: `; a header's name is
// Authorization, Cookie or hyphenated), GitHub, AWS, Slack or JSON Web token. The first
// group of a match stays (`https://user:`, `Bearer `, `?session=`, `Cookie: `), and so
// does a URL's final `@`; a header match starts with the character before its name.
var secretShapes = regexp.MustCompile(
	`([A-Za-z0-9]://[^/\s:@]*:)[^/\s@]+@` +
		`|((?:^|[^\w-])((?i:authorization|cookie)|[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)+):[ \t]*` +
		`(?:(?i:basic|bearer|digest|token|negotiate)[ \t]+)?)[^\r\n"']+` +
		`|\b((?i:bearer)\s+)[\w.~+/=-]{8,}` +
		`|([?&;]([A-Za-z][\w.-]*)=)[^&#;\s"'<>]+` +
		`|\bgh[pousr]_[A-Za-z0-9]{20,}|\bgithub_pat_\w{20,}|\b(?:AKIA|ASIA)[A-Z0-9]{16}\b` +
		`|\bxox[abposr]-[A-Za-z0-9-]{10,}|\beyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]*`)

// mayHoldShape: most strings hold none of what every shape holds, and skip the regular
// expression, which costs far more than these checks.
func mayHoldShape(text string) bool {
	return len(text) >= 4 && (strings.Contains(text, "://") || strings.Contains(text, "eyJ") ||
		strings.Contains(text, "AKIA") || strings.Contains(text, "ASIA") ||
		strings.Contains(text, "xox") || strings.Contains(text, "earer") ||
		strings.Contains(text, "EARER") || (strings.Contains(text, "_") && strings.Contains(text, "gh")) ||
		(strings.Contains(text, "=") && strings.ContainsAny(text, "?&;")) ||
		(strings.Contains(text, ":") && headerHint.MatchString(text)))
}

// headerHint: what a header line's shape needs, a hyphenated word, Authorization or Cookie
// right before a colon (a date's colons and hyphens do not send it to secretShapes).
var headerHint = regexp.MustCompile(`[A-Za-z0-9]-[A-Za-z0-9-]*:|(?i:authorization|cookie):`)

// scrub replaces the values of secret environment variables and secret-shaped words in
// free text.
func (r *redactor) scrub(text string) string {
	for _, v := range r.values {
		if strings.Contains(text, v) {
			text = strings.ReplaceAll(text, v, redactedText)
		}
	}
	return r.scrubShapes(text)
}

func (r *redactor) scrubShapes(text string) string {
	if !mayHoldShape(text) {
		return text
	}
	return secretShapes.ReplaceAllStringFunc(text, func(word string) string {
		m := secretShapes.FindStringSubmatch(word)
		switch {
		case m[1] != "":
			return m[1] + redactedText + "@"
		case m[2] != "" && r.looksSecret(m[3]):
			return m[2] + redactedText
		case m[2] != "": // an innocent header: its value may hold another shape
			return m[2] + r.scrubShapes(word[len(m[2]):])
		case m[4] != "":
			return m[4] + redactedText
		case m[5] != "" && r.looksSecret(m[6]):
			return m[5] + redactedText
		case m[5] != "": // an innocent parameter: its value may hold another shape
			return m[5] + r.scrubShapes(word[len(m[5]):])
		}
		return redactedText
	})
}

// isShortPassword: whether the word after a bare `-p` is taken for a password (`sshpass -p`,
// mysql-style tools): one holding a digit or a symbol, but not a number or port, a
// `name:value` (pytest's `-p no:cacheprovider`), a path or an existing file; a plain name
// (`-p xdist`) is not one (values.py is_short_password).
func isShortPassword(word string) bool {
	if word == "" || strings.HasPrefix(word, "-") || strings.ContainsAny(word, "/:") {
		return false
	}
	if strings.Trim(word, "0123456789") == "" {
		return false
	}
	notName := strings.IndexFunc(word, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '.' || c == '-')
	})
	return notName >= 0 && !pathExists(word)
}

// secretOptions: which words of a command line are secret option values, whole (after
// `--password` or a password-like `-p`) or after the `=` of `--api-key=VALUE` (by index).
func (r *redactor) secretOptions(argv []string) (map[int]bool, map[int]string) {
	hidden, inline := map[int]bool{}, map[int]string{}
	for i, arg := range argv {
		if hidden[i] || !strings.HasPrefix(arg, "-") {
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		switch {
		case name != "" && r.looksSecret(name) && hasValue:
			inline[i] = value
		case name != "" && r.looksSecret(name):
			hidden[i+1] = true
		case arg == "-p" && i+1 < len(argv) && isShortPassword(argv[i+1]):
			hidden[i+1] = true
		}
	}
	return hidden, inline
}

// scrubArgv redacts the value of an option whose name looks secret (`--api-key=<redacted>`,
// or the word after `--password` or a password-like `-p`) and scrubs secrets from every word.
func (r *redactor) scrubArgv(argv []string) []string {
	hidden, inline := r.secretOptions(argv)
	out := make([]string, 0, len(argv))
	for i, arg := range argv {
		if hidden[i] {
			out = append(out, redactedText)
			continue
		}
		if value, ok := inline[i]; ok {
			arg = arg[:len(arg)-len(value)] + redactedText
		}
		out = append(out, r.scrub(arg))
	}
	return out
}
