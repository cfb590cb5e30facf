//! What the agent reads of its process's environment: the spool, the mode, the variables the
//! header's snapshot keeps (spec/OTRACE.md 4.1).

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The spool as DESIGN.md says: $ORION_SPOOL, the nearest `.orion/` upwards, the data dir.
pub fn spool() -> PathBuf {
    let home = env("HOME").unwrap_or_default();
    if let Some(dir) = env("ORION_SPOOL") {
        return match dir.strip_prefix('~') {
            Some(rest) => PathBuf::from(format!("{home}{rest}")),
            None => dir.into(),
        };
    }
    if let Ok(cwd) = std::env::current_dir() {
        if let Some(dir) = cwd
            .ancestors()
            .map(|d| d.join(".orion"))
            .find(|d| d.is_dir())
        {
            return dir;
        }
    }
    match env("XDG_DATA_HOME") {
        Some(data) => PathBuf::from(data).join("orionis/spool"),
        None => PathBuf::from(home).join(".local/share/orionis/spool"),
    }
}

pub fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// `YYYYmmddTHHMMSSffffff` in UTC, for the file name.
pub fn utc_stamp(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + (month <= 2) as i64;
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}{:06}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ns % 1_000_000_000 / 1000
    )
}

/// The environment variables the snapshot keeps (spec/OTRACE.md 4.1).
pub fn selected(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "PATH",
        "PWD",
        "LD_LIBRARY_PATH",
        "LD_PRELOAD",
        "LANG",
        "LANGUAGE",
        "TZ",
        "CI",
        "CONTINUOUS_INTEGRATION",
        "GITLAB_CI",
        "JENKINS_URL",
        "TF_BUILD",
        "CC",
        "CXX",
        "CFLAGS",
        "CXXFLAGS",
        "CPPFLAGS",
        "LDFLAGS",
        "MAKEFLAGS",
        "SOURCE_DATE_EPOCH",
        "CARGO_PKG_NAME",
        "RUST_BACKTRACE",
        "RUST_LOG",
        "RUST_MIN_STACK",
        "RUSTFLAGS",
    ];
    const PREFIXES: &[&str] = &[
        "LC_",
        "GITHUB_",
        "RUNNER_",
        "CI_",
        "BUILDKITE",
        "CIRCLE",
        "TRAVIS",
        "BUILD_",
        "ORION_",
        "CARGO_",
    ];
    let allowed = env("ORION_ENV_ALLOW").unwrap_or_default();
    EXACT.contains(&name)
        || PREFIXES.iter().any(|p| name.starts_with(p))
        || allowed
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .any(|a| match a.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => name == a,
            })
}
