//! Secrets (spec/OTRACE.md section 7, the rules of orion/agent/values.py and the Go and Node
//! agents): names that look secret are redacted wherever a value is captured; in free text
//! (values, panic messages, the command line, the environment) the values of secret
//! environment variables and command-line options are scrubbed, and so are words shaped
//! like secrets (a URL's password, a bearer, a secret-named query parameter or header line,
//! GitHub, AWS, Slack and JSON Web tokens).

use crate::config::env;
use std::sync::OnceLock;

const DEFAULT_WORDS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "access_key",
    "auth",
    "authorization",
    "cookie",
    "session",
    "private_key",
    "privatekey",
    "credential",
    "credentials",
    "signature",
    "dsn",
];

pub const REDACTED: &str = "<redacted>";

/// A shorter secret value would hide innocent words in free text.
const MIN_SCRUBBED: usize = 6;

/// A name split into lower-case words at `_`, `-`, `.`, blanks and camelCase boundaries.
fn words(name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if matches!(c, '_' | '-' | '.' | ' ' | '\t') {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The process's secret words and the secret values found in its environment and command
/// line, decided once.
pub struct Redactor {
    words: Vec<Vec<String>>,
    values: Vec<String>, // longest first
}

pub fn redactor() -> &'static Redactor {
    static REDACTOR: OnceLock<Redactor> = OnceLock::new();
    REDACTOR.get_or_init(|| {
        let custom = env("ORION_REDACT").map(|v| v.split(',').map(words).collect::<Vec<_>>());
        let words = custom
            .unwrap_or_else(|| DEFAULT_WORDS.iter().map(|w| words(w)).collect())
            .into_iter()
            .filter(|w| !w.is_empty())
            .collect();
        let mut redactor = Redactor {
            words,
            values: Vec::new(),
        };
        redactor.values = redactor.startup_values();
        redactor
    })
}

impl Redactor {
    /// Whether a secret word is a whole run of the name's words (`db_password`,
    /// `authToken`; not `author`), the shell's PWD and OLDPWD aside.
    pub fn looks_secret(&self, name: &str) -> bool {
        if name == "PWD" || name == "OLDPWD" {
            return false;
        }
        let have = words(name);
        self.words
            .iter()
            .any(|needle| have.windows(needle.len()).any(|w| w == needle.as_slice()))
    }

    /// Secret environment variables' and command-line options' values, and every URL's
    /// password in the environment or on the command line (values.py startup_secret_values).
    fn startup_values(&self) -> Vec<String> {
        let mut found: Vec<String> = Vec::new();
        for (name, value) in std::env::vars() {
            if self.looks_secret(&name) {
                found.push(value.clone());
            }
            found.extend(url_passwords(&value));
        }
        let argv: Vec<String> = std::env::args().collect();
        for (i, option) in self.secret_options(&argv).into_iter().enumerate() {
            match option {
                SecretOption::Whole => found.push(argv[i].clone()),
                SecretOption::After(at) => found.push(argv[i][at..].to_string()),
                SecretOption::None => {}
            }
            found.extend(url_passwords(&argv[i]));
        }
        let mut values: Vec<String> = Vec::new();
        for value in found {
            let is_path = value.contains('/') && std::path::Path::new(&value).exists();
            if value.len() >= MIN_SCRUBBED && !is_path && !values.contains(&value) {
                values.push(value);
            }
        }
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values
    }

    /// Free text without the secret values and secret-shaped words.
    pub fn scrub(&self, text: &str) -> String {
        let mut text = text.to_string();
        for value in &self.values {
            if text.contains(value.as_str()) {
                text = text.replace(value.as_str(), REDACTED);
            }
        }
        self.scrub_shapes(&text)
    }

    /// A command line with the values of secret options redacted (`--api-key=<redacted>`,
    /// the word after `--password` or a password-like `-p`) and every word scrubbed.
    pub fn scrub_argv(&self, argv: &[String]) -> Vec<String> {
        let options = self.secret_options(argv);
        argv.iter()
            .zip(options)
            .map(|(arg, option)| match option {
                SecretOption::Whole => REDACTED.to_string(),
                SecretOption::After(at) => format!("{}{REDACTED}", self.scrub(&arg[..at])),
                SecretOption::None => self.scrub(arg),
            })
            .collect()
    }

    /// For each word of a command line, whether it is a secret option's value.
    fn secret_options(&self, argv: &[String]) -> Vec<SecretOption> {
        let mut options: Vec<SecretOption> = argv.iter().map(|_| SecretOption::None).collect();
        for (i, arg) in argv.iter().enumerate() {
            if !arg.starts_with('-') || matches!(options[i], SecretOption::Whole) {
                continue;
            }
            let bare = arg.trim_start_matches('-');
            let (name, value_at) = match bare.find('=') {
                Some(eq) => (&bare[..eq], Some(arg.len() - bare.len() + eq + 1)),
                None => (bare, None),
            };
            if !name.is_empty() && self.looks_secret(name) {
                match value_at {
                    Some(at) => options[i] = SecretOption::After(at),
                    None if i + 1 < argv.len() => options[i + 1] = SecretOption::Whole,
                    None => {}
                }
            } else if arg == "-p" && i + 1 < argv.len() && is_short_password(&argv[i + 1]) {
                options[i + 1] = SecretOption::Whole;
            }
        }
        options
    }

    /// The secret-shaped words of `text` redacted (values.py _SHAPES, agents/go/redact.go).
    fn scrub_shapes(&self, text: &str) -> String {
        if !may_hold_shape(text) {
            return text.to_string();
        }
        let b = text.as_bytes();
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while i < b.len() {
            if let Some((end, replacement)) = self.shape_at(text, i) {
                out.push_str(&replacement);
                i = end;
            } else {
                let width = text[i..].chars().next().map_or(1, char::len_utf8);
                out.push_str(&text[i..i + width]);
                i += width;
            }
        }
        out
    }

    /// The shape that starts at byte `i`, as (its end, its replacement).
    fn shape_at(&self, text: &str, i: usize) -> Option<(usize, String)> {
        let b = text.as_bytes();
        let boundary = i == 0 || !is_word(b[i - 1]);
        // A URL's password: `x://user:` stays, then `<redacted>@`.
        if let Some((colon, at)) = url_password_at(b, i) {
            return Some((at + 1, format!("{}{REDACTED}@", &text[i..=colon])));
        }
        // A header line: its name after a start or a character that is no word's.
        let name_at = if i == 0 && b[0].is_ascii_alphabetic() {
            Some(0)
        } else if b[i].is_ascii() && !is_word(b[i]) && b[i] != b'-' {
            Some(i + 1)
        } else {
            None
        };
        if let Some(name_at) = name_at {
            if let Some(shape) = self.header_at(text, i, name_at) {
                return Some(shape);
            }
        }
        // A bearer.
        if boundary && starts_with_ignore_case(&b[i..], b"bearer") {
            let spaces = run(&b[i + 6..], is_space);
            let start = i + 6 + spaces;
            let token = run(&b[start..], |c| is_word(c) || b".~+/=-".contains(&c));
            if spaces > 0 && token >= 8 {
                return Some((start + token, format!("{}{REDACTED}", &text[i..start])));
            }
        }
        // A query parameter.
        if matches!(b[i], b'?' | b'&' | b';') && b.get(i + 1).is_some_and(u8::is_ascii_alphabetic) {
            let eq = i + 1 + run(&b[i + 1..], |c| is_word(c) || c == b'.' || c == b'-');
            if b.get(eq) == Some(&b'=') {
                let end = eq + 1 + run(&b[eq + 1..], |c| !b"&#;\"'<>".contains(&c) && !is_space(c));
                if end > eq + 1 {
                    let value = if self.looks_secret(&text[i + 1..eq]) {
                        REDACTED.to_string()
                    } else {
                        self.scrub_shapes(&text[eq + 1..end])
                    };
                    return Some((end, format!("{}{value}", &text[i..=eq])));
                }
            }
        }
        if boundary {
            return token_at(b, i).map(|end| (end, REDACTED.to_string()));
        }
        None
    }

    /// `Name: [scheme ]value` to the end of the line, the name Authorization, Cookie or
    /// hyphenated; a secret name loses its value, an innocent one keeps it scrubbed.
    fn header_at(&self, text: &str, i: usize, name_at: usize) -> Option<(usize, String)> {
        let b = text.as_bytes();
        let colon = name_at + run(&b[name_at..], |c| c.is_ascii_alphanumeric() || c == b'-');
        let name = &text[name_at..colon];
        let hyphenated = name.contains('-')
            && name.as_bytes()[0].is_ascii_alphabetic()
            && !name.ends_with('-')
            && !name.contains("--");
        let known =
            name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("cookie");
        if b.get(colon) != Some(&b':') || !(hyphenated || known) {
            return None;
        }
        let mut start = colon + 1 + run(&b[colon + 1..], |c| c == b' ' || c == b'\t');
        for scheme in [&b"basic"[..], b"bearer", b"digest", b"token", b"negotiate"] {
            let blanks = b
                .get(start + scheme.len()..)
                .map_or(0, |rest| run(rest, |c| c == b' ' || c == b'\t'));
            if starts_with_ignore_case(&b[start..], scheme) && blanks > 0 {
                start += scheme.len() + blanks;
                break;
            }
        }
        let end = start + run(&b[start..], |c| !matches!(c, b'\r' | b'\n' | b'"' | b'\''));
        if end == start {
            return None;
        }
        let value = if self.looks_secret(name) {
            REDACTED.to_string()
        } else {
            self.scrub_shapes(&text[start..end])
        };
        Some((end, format!("{}{value}", &text[i..start])))
    }
}

#[derive(Clone, Copy)]
enum SecretOption {
    None,
    /// The whole word is a secret value (after `--password`).
    Whole,
    /// The word from this byte on (after the `=` of `--token=`).
    After(usize),
}

/// GitHub, AWS, Slack and JSON Web tokens starting at `i` (after a word boundary): its end.
fn token_at(b: &[u8], i: usize) -> Option<usize> {
    let rest = &b[i..];
    let alnum = |s: &[u8]| run(s, |c| c.is_ascii_alphanumeric());
    if rest.len() > 4 && rest.starts_with(b"gh") && b"pousr".contains(&rest[2]) && rest[3] == b'_' {
        let n = alnum(&rest[4..]);
        return (n >= 20).then_some(i + 4 + n);
    }
    if rest.starts_with(b"github_pat_") {
        let n = run(&rest[11..], is_word);
        return (n >= 20).then_some(i + 11 + n);
    }
    if rest.starts_with(b"AKIA") || rest.starts_with(b"ASIA") {
        let n = run(&rest[4..], |c| c.is_ascii_uppercase() || c.is_ascii_digit());
        return (n == 16 && !rest.get(20).is_some_and(|c| is_word(*c))).then_some(i + 20);
    }
    if rest.len() > 4 && rest.starts_with(b"xox") && b"abposr".contains(&rest[3]) && rest[4] == b'-'
    {
        let n = run(&rest[5..], |c| c.is_ascii_alphanumeric() || c == b'-');
        return (n >= 10).then_some(i + 5 + n);
    }
    if rest.starts_with(b"eyJ") {
        let jwt_part = |s: &[u8]| run(s, |c| is_word(c) || c == b'-');
        let first = 3 + jwt_part(&rest[3..]);
        if first >= 11 && rest[first..].starts_with(b".eyJ") {
            let second = first + 4 + jwt_part(&rest[first + 4..]);
            if second >= first + 12 && rest.get(second) == Some(&b'.') {
                return Some(i + second + 1 + jwt_part(&rest[second + 1..]));
            }
        }
    }
    None
}

/// Most strings hold none of what every shape needs and skip the scan.
fn may_hold_shape(text: &str) -> bool {
    text.len() >= 4
        && (text.contains("://")
            || text.contains("eyJ")
            || text.contains("AKIA")
            || text.contains("ASIA")
            || text.contains("xox")
            || text.contains("earer")
            || text.contains("EARER")
            || (text.contains('_') && text.contains("gh"))
            || (text.contains('=') && text.contains(['?', '&', ';']))
            || text.contains(':'))
}

/// The word after a bare `-p` is taken for a password (`sshpass -p`) when it holds a digit
/// or a symbol, unless it is a number or port, a `name:value`, a path or an existing file;
/// a plain name (`-p xdist`) is not one (values.py is_short_password).
fn is_short_password(word: &str) -> bool {
    if word.is_empty() || word.starts_with('-') || word.contains(['/', ':']) {
        return false;
    }
    if word.bytes().all(|c| c.is_ascii_digit()) {
        return false;
    }
    let plain_name = word
        .chars()
        .all(|c| c.is_ascii_alphabetic() || matches!(c, '_' | '.' | '-'));
    !plain_name && !std::path::Path::new(word).exists()
}

/// The passwords of the URLs in `text` (`scheme://user:PASSWORD@`).
fn url_passwords(text: &str) -> Vec<String> {
    if !text.contains("://") {
        return Vec::new();
    }
    (0..text.len())
        .filter_map(|i| url_password_at(text.as_bytes(), i))
        .map(|(colon, at)| text[colon + 1..at].to_string())
        .collect()
}

/// A URL with a password whose scheme ends at `i` (`s` of `https://u:pw@`): the byte
/// offsets of the colon before the password and of the `@` after it.
fn url_password_at(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if !b[i].is_ascii_alphanumeric() || !b[i + 1..].starts_with(b"://") {
        return None;
    }
    let colon = i
        + 4
        + run(&b[i + 4..], |c| {
            !matches!(c, b'/' | b':' | b'@') && !is_space(c)
        });
    let at = colon
        + 1
        + run(b.get(colon + 1..)?, |c| {
            !matches!(c, b'/' | b'@') && !is_space(c)
        });
    (b.get(colon) == Some(&b':') && at > colon + 1 && b.get(at) == Some(&b'@'))
        .then_some((colon, at))
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')
}

fn run(b: &[u8], keep: impl Fn(u8) -> bool) -> usize {
    b.iter().take_while(|c| keep(**c)).count()
}

fn starts_with_ignore_case(b: &[u8], prefix: &[u8]) -> bool {
    b.len() >= prefix.len() && b[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
mod tests {
    use super::{Redactor, DEFAULT_WORDS};

    fn default_redactor() -> Redactor {
        Redactor {
            words: DEFAULT_WORDS.iter().map(|w| super::words(w)).collect(),
            values: Vec::new(),
        }
    }

    #[test]
    fn names_as_the_spec_says() {
        let r = default_redactor();
        for name in [
            "db_password",
            "authToken",
            "AUTH_HEADER",
            "AWS_SECRET_ACCESS_KEY",
            "password",
        ] {
            assert!(r.looks_secret(name), "{name}");
        }
        for name in ["author", "max_tokens", "mypassword", "PWD", "OLDPWD"] {
            assert!(!r.looks_secret(name), "{name}");
        }
    }

    #[test]
    fn shapes_as_values_py_scrubs_them() {
        let r = default_redactor();
        for (text, expected) in [
            (
                "https://a.test/x?page=2&session=s3ss10n&cookie=c00k1e",
                "https://a.test/x?page=2&session=<redacted>&cookie=<redacted>",
            ),
            (
                "/books?author=jane&max_tokens=5",
                "/books?author=jane&max_tokens=5",
            ),
            (
                "/go?next=https://u:pw-9876@host/&page=2",
                "/go?next=https://u:<redacted>@host/&page=2",
            ),
            ("a == b && c", "a == b && c"),
            (
                "Authorization: Basic dXNlcjpwYXNz",
                "Authorization: Basic <redacted>",
            ),
            (
                "Host: a\r\nCookie: sid=abc; theme=dark\r\nX-Api-Key: k-123456\r\nX-Request-Id: 42",
                "Host: a\r\nCookie: <redacted>\r\nX-Api-Key: <redacted>\r\nX-Request-Id: 42",
            ),
            (
                "Referer: https://u:pw-1234@h/?page=1",
                "Referer: https://u:<redacted>@h/?page=1",
            ),
            (
                "token: expected ')' at 12:30 - retry",
                "token: expected ')' at 12:30 - retry",
            ),
            (
                "{\"Authorization\": \"Bearer abcdefgh12\"}",
                "{\"Authorization\": \"Bearer <redacted>\"}",
            ),
            (
                "ghp_Ab12Cd34Ef56Gh78Ij90Kl12 AKIAQ3EGRTY5MZXW7P2L",
                "<redacted> <redacted>",
            ),
            // Not ASCII: nothing is cut inside a character.
            (
                "été: naïve — Cookie: a=1",
                "été: naïve — Cookie: <redacted>",
            ),
            ("日本語:テキスト?語=値", "日本語:テキスト?語=値"),
        ] {
            assert_eq!(r.scrub(text), expected);
        }
    }

    #[test]
    fn the_word_after_p_is_a_password_unless_a_port_plugin_or_name() {
        let r = default_redactor();
        let argv: Vec<String> = [
            "-p",
            "hunter2x",
            "-p",
            "8080",
            "-p",
            "no:cacheprovider",
            "-p",
            "xdist",
            "--token=abc",
            "--password",
            "x",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            r.scrub_argv(&argv),
            [
                "-p",
                "<redacted>",
                "-p",
                "8080",
                "-p",
                "no:cacheprovider",
                "-p",
                "xdist",
                "--token=<redacted>",
                "--password",
                "<redacted>"
            ]
        );
    }
}
