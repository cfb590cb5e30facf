//! Secret-looking names (spec/OTRACE.md section 7): a default word, or one of ORION_REDACT's,
//! appears as whole consecutive words of the name.

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

pub fn looks_secret(name: &str, custom: Option<&[String]>) -> bool {
    let upper = name.to_ascii_uppercase();
    if upper == "PWD" || upper == "OLDPWD" {
        return false;
    }
    let have = words(name);
    let check = |word: &str| {
        let needle = words(word);
        !needle.is_empty() && have.windows(needle.len()).any(|w| w == needle.as_slice())
    };
    match custom {
        Some(list) => list.iter().any(|w| check(w)),
        None => DEFAULT_WORDS.iter().any(|w| check(w)),
    }
}

#[cfg(test)]
mod tests {
    use super::looks_secret;

    #[test]
    fn names_as_the_spec_says() {
        for name in [
            "db_password",
            "authToken",
            "AUTH_HEADER",
            "AWS_SECRET_ACCESS_KEY",
            "password",
        ] {
            assert!(looks_secret(name, None), "{name}");
        }
        for name in ["author", "max_tokens", "mypassword", "PWD", "OLDPWD"] {
            assert!(!looks_secret(name, None), "{name}");
        }
    }
}
