//! The trace of this process: one file in the spool, written as the program runs.
//! Events are packed into a batch under one lock and flushed as a frame when the batch is
//! full, when a panic is recorded (so an abort after it leaves the panic on disk) and at exit.

use crate::{frame, msgpack as mp, redact, Call, Captured};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");
const FRAME_TARGET: usize = 256 * 1024;
const STRING_LIMIT: usize = 200;
const RECORDS: &[(u8, &str, &[&str], bool)] = &[
    (0, "header", &["meta"], false),
    (1, "string", &["id", "text"], false),
    (
        2,
        "function",
        &["id", "name", "module", "file", "line", "addr?"],
        false,
    ),
    (
        3,
        "lane",
        &["id", "name", "kind", "native_id", "parent"],
        false,
    ),
    (4, "call", &["dt", "lane", "fn", "args?", "site?"], true),
    (5, "return", &["dt", "lane", "value?"], true),
    (
        6,
        "exception",
        &["dt", "lane", "kind", "exc_type", "message", "line"],
        true,
    ),
    (7, "unwind", &["dt", "lane", "line", "locals?"], true),
    (
        8,
        "crash",
        &["dt", "lane", "kind", "reason", "message", "detail"],
        true,
    ),
    (9, "stack", &["dt", "lane", "reason", "frames"], true),
    (10, "event", &["dt", "lane", "kind", "attrs"], true),
    (
        11,
        "module",
        &["id", "path", "base", "build_id", "size?", "mtime?"],
        false,
    ),
    (15, "end", &["summary"], false),
];

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Dev,
    Safe,
}

#[derive(Default)]
struct Counts {
    records: u64,
    calls: u64,
    returns: u64,
    unwinds: u64,
    exceptions: u64,
    crashes: u64,
    stacks: u64,
}

struct Panic {
    message: String,
    file: String,
    line: u32,
    lane: u32,
    on_main: bool,
}

struct Trace {
    file: File,
    mode: Mode,
    redact: Option<Vec<String>>,
    trace_id: String,
    start_ns: u64,
    start: Instant,
    argv: Vec<String>,
    host: String,
    pid: u32,
    parent: Option<(String, String)>,
    batch: Vec<u8>,
    frame_t: i64,
    max_t: u64,
    crc: u32,
    strings: HashMap<String, u32>,
    functions: Vec<String>,
    lanes: u32,
    counts: Counts,
    root: Option<String>,
    panic: Option<Panic>,
    finished: bool,
}

static TRACE: OnceLock<Option<Mutex<Trace>>> = OnceLock::new();

thread_local! {
    /// This thread's lane id and the function ids of its open calls, innermost last.
    static LANE: RefCell<Option<(u32, Vec<u32>)>> = const { RefCell::new(None) };
}

fn trace() -> Option<&'static Mutex<Trace>> {
    TRACE
        .get_or_init(|| {
            Trace::open().map(|t| {
                install_hooks();
                Mutex::new(t)
            })
        })
        .as_ref()
}

fn lock() -> Option<std::sync::MutexGuard<'static, Trace>> {
    trace().map(|m| m.lock().unwrap_or_else(|e| e.into_inner()))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The spool as DESIGN.md says: $ORION_SPOOL, the nearest `.orion/` upwards, the data dir.
fn spool() -> PathBuf {
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

fn random_u64() -> u64 {
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
fn utc_stamp(ns: u64) -> String {
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
fn selected(name: &str) -> bool {
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

impl Trace {
    fn open() -> Option<Trace> {
        let mode = match env("ORION_MODE").as_deref() {
            Some("off") => return None,
            Some("safe") => Mode::Safe,
            _ => Mode::Dev,
        };
        let redact = env("ORION_REDACT").map(|v| {
            v.split(',')
                .map(|w| w.trim().to_string())
                .filter(|w| !w.is_empty())
                .collect()
        });
        let start_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let trace_id = format!("{:016x}{:016x}", random_u64(), random_u64() | 1);
        let dir = spool();
        std::fs::create_dir_all(&dir).ok()?;
        let path = dir.join(format!("{}Z-{trace_id}.otrace", utc_stamp(start_ns)));
        let file = File::create(&path).ok()?;
        let parent = env("ORION_PARENT").and_then(|p| {
            p.split_once('-')
                .map(|(t, s)| (t.to_string(), s.to_string()))
        });
        let mut trace = Trace {
            file,
            mode,
            redact,
            trace_id,
            start_ns,
            start: Instant::now(),
            argv: std::env::args().collect(),
            host: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_default(),
            pid: std::process::id(),
            parent,
            batch: Vec::with_capacity(FRAME_TARGET + 4096),
            frame_t: 0,
            max_t: 0,
            crc: 0,
            strings: HashMap::new(),
            functions: Vec::new(),
            lanes: 0,
            counts: Counts::default(),
            root: None,
            panic: None,
            finished: false,
        };
        trace.file.write_all(&frame::prelude()).ok()?;
        trace.header();
        trace.flush();
        if let Some(report) = env("ORION_REPORT") {
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(report)
            {
                let _ = writeln!(f, "{}", path.display());
            }
        }
        Some(trace)
    }

    fn header(&mut self) {
        let b = &mut self.batch;
        mp::array(b, 2);
        mp::uint(b, 0);
        let extra = self.parent.is_some() as usize;
        mp::map(b, 9 + extra);
        mp::str(b, "format");
        mp::str(b, "otrace");
        mp::str(b, "version");
        mp::array(b, 2);
        mp::uint(b, 1);
        mp::uint(b, 0);
        mp::str(b, "trace_id");
        mp::str(b, &self.trace_id);
        mp::str(b, "agent");
        mp::map(b, 3);
        mp::str(b, "language");
        mp::str(b, "rust");
        mp::str(b, "name");
        mp::str(b, "orion-rust");
        mp::str(b, "version");
        mp::str(b, AGENT_VERSION);
        mp::str(b, "mode");
        mp::str(
            b,
            if self.mode == Mode::Safe {
                "safe"
            } else {
                "dev"
            },
        );
        mp::str(b, "start_ns");
        mp::uint(b, self.start_ns);
        mp::str(b, "process");
        mp::map(b, 5);
        mp::str(b, "pid");
        mp::uint(b, self.pid as u64);
        mp::str(b, "argv");
        mp::array(b, self.argv.len());
        for a in &self.argv {
            mp::str(b, a);
        }
        mp::str(b, "cwd");
        mp::opt_str(
            b,
            std::env::current_dir()
                .ok()
                .as_ref()
                .and_then(|p| p.to_str()),
        );
        mp::str(b, "executable");
        mp::opt_str(
            b,
            std::env::current_exe()
                .ok()
                .as_ref()
                .and_then(|p| p.to_str()),
        );
        mp::str(b, "host");
        mp::str(b, &self.host);
        mp::str(b, "env");
        mp::map(b, 4);
        mp::str(b, "os");
        mp::str(b, std::env::consts::OS);
        mp::str(b, "runtime");
        mp::str(b, "Rust");
        let vars: Vec<(String, String)> = std::env::vars().filter(|(k, _)| selected(k)).collect();
        let omitted = std::env::vars_os().count() - vars.len();
        mp::str(b, "vars");
        mp::map(b, vars.len());
        for (k, v) in &vars {
            mp::str(b, k);
            if redact::looks_secret(k, self.redact.as_deref()) {
                mp::map(b, 2);
                mp::str(b, "t");
                mp::str(b, "str");
                mp::str(b, "redacted");
                mp::boolean(b, true);
            } else {
                mp::str(b, v);
            }
        }
        mp::str(b, "vars_omitted");
        mp::uint(b, omitted as u64);
        mp::str(b, "records");
        mp::array(b, RECORDS.len());
        for (code, name, columns, timed) in RECORDS {
            mp::map(b, 4);
            mp::str(b, "type");
            mp::uint(b, *code as u64);
            mp::str(b, "name");
            mp::str(b, name);
            mp::str(b, "columns");
            mp::array(b, columns.len());
            for c in *columns {
                mp::str(b, c);
            }
            mp::str(b, "timed");
            mp::boolean(b, *timed);
        }
        if let Some((trace, span)) = &self.parent {
            mp::str(b, "parent");
            mp::map(b, 2);
            mp::str(b, "trace_id");
            mp::str(b, trace);
            mp::str(b, "span_id");
            mp::str(b, span);
        }
        self.counts.records += 1;
    }

    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        self.crc = frame::crc32(self.crc, &self.batch);
        let _ = self.file.write_all(&frame::raw_frame(&self.batch));
        self.batch.clear();
        self.frame_t = 0;
    }

    fn string(&mut self, text: &str) -> u32 {
        if let Some(&id) = self.strings.get(text) {
            return id;
        }
        let id = self.strings.len() as u32;
        self.strings.insert(text.to_string(), id);
        mp::array(&mut self.batch, 3);
        mp::uint(&mut self.batch, 1);
        mp::uint(&mut self.batch, id as u64);
        mp::str(&mut self.batch, text);
        self.counts.records += 1;
        id
    }

    /// Starts a timed record of `columns` columns after the code: code, dt, lane.
    fn timed(&mut self, code: u8, columns: usize, lane: u32) {
        let t = self.start.elapsed().as_nanos() as i64;
        mp::array(&mut self.batch, columns + 1);
        mp::uint(&mut self.batch, code as u64);
        mp::int(&mut self.batch, t - self.frame_t);
        mp::uint(&mut self.batch, lane as u64);
        self.frame_t = t;
        self.max_t = self.max_t.max(t as u64);
        self.counts.records += 1;
    }

    /// A captured value (spec section 7): a text node with the type name, a redacted node,
    /// or the type name alone for a type without `Debug`.
    fn value(&mut self, name: Option<&str>, value: &Captured) {
        let type_sid = self.string(value.type_name);
        let b = &mut self.batch;
        if name.is_some_and(|n| redact::looks_secret(n, self.redact.as_deref())) {
            mp::array(b, 2);
            mp::uint(b, 4);
            mp::uint(b, type_sid as u64);
            return;
        }
        let text = value.text.as_deref().unwrap_or(value.type_name);
        let length = text.chars().count();
        if length > STRING_LIMIT {
            let cut: String = text.chars().take(STRING_LIMIT).collect();
            mp::array(b, 4);
            mp::uint(b, 0);
            mp::uint(b, type_sid as u64);
            mp::str(b, &cut);
            mp::uint(b, length as u64);
        } else {
            mp::array(b, 3);
            mp::uint(b, 0);
            mp::uint(b, type_sid as u64);
            mp::str(b, text);
        }
    }

    fn define_lane(&mut self) -> u32 {
        let id = self.lanes;
        self.lanes += 1;
        let current = std::thread::current();
        let name = current
            .name()
            .map(str::to_string)
            .unwrap_or_else(|| format!("thread {id}"));
        let (name_sid, kind_sid) = (self.string(&name), self.string("thread"));
        let b = &mut self.batch;
        mp::array(b, 6);
        mp::uint(b, 3);
        mp::uint(b, id as u64);
        mp::uint(b, name_sid as u64);
        mp::uint(b, kind_sid as u64);
        mp::nil(b);
        mp::nil(b); // the spawning thread is not known
        self.counts.records += 1;
        id
    }

    fn end_batch(&mut self) {
        if self.batch.len() >= FRAME_TARGET {
            self.flush();
        }
    }

    fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        let crashed = self.panic.as_ref().is_some_and(|p| p.on_main);
        if crashed {
            let (message, file, line, lane) = self
                .panic
                .as_ref()
                .map(|p| (p.message.clone(), p.file.clone(), p.line, p.lane))
                .unwrap();
            self.timed(8, 6, lane);
            let b = &mut self.batch;
            mp::str(b, "panic");
            mp::str(b, "panic");
            mp::str(b, &message);
            mp::map(b, 2);
            mp::str(b, "file");
            mp::str(b, &file);
            mp::str(b, "line");
            mp::uint(b, line as u64);
            self.counts.crashes += 1;
        }
        let checksum = frame::crc32(self.crc, &self.batch);
        let mut summary = Vec::new();
        let s = &mut summary;
        mp::map(s, 14 + self.parent.is_some() as usize);
        mp::str(s, "trace_id");
        mp::str(s, &self.trace_id);
        mp::str(s, "status");
        mp::str(s, if crashed { "crashed" } else { "ok" });
        mp::str(s, "language");
        mp::str(s, "rust");
        mp::str(s, "mode");
        mp::str(
            s,
            if self.mode == Mode::Safe {
                "safe"
            } else {
                "dev"
            },
        );
        mp::str(s, "start_ns");
        mp::uint(s, self.start_ns);
        mp::str(s, "duration_ns");
        mp::uint(s, self.max_t.max(self.start.elapsed().as_nanos() as u64));
        mp::str(s, "command");
        mp::array(s, self.argv.len());
        for a in &self.argv {
            mp::str(s, a);
        }
        mp::str(s, "host");
        mp::str(s, &self.host);
        mp::str(s, "pid");
        mp::uint(s, self.pid as u64);
        mp::str(s, "root");
        mp::opt_str(s, self.root.as_deref());
        mp::str(s, "exception");
        match (&self.panic, crashed) {
            (Some(p), true) => {
                mp::map(s, 3);
                mp::str(s, "type");
                mp::str(s, "panic");
                mp::str(s, "message");
                mp::str(s, &p.message);
                mp::str(s, "kind");
                mp::str(s, "panic");
            }
            _ => mp::nil(s),
        }
        mp::str(s, "exit_code");
        if crashed {
            mp::uint(s, 101)
        } else {
            mp::nil(s)
        }
        let c = &self.counts;
        mp::str(s, "counts");
        mp::map(s, 10);
        for (k, v) in [
            ("records", c.records),
            ("calls", c.calls),
            ("returns", c.returns),
            ("unwinds", c.unwinds),
            ("exceptions", c.exceptions),
            ("crashes", c.crashes),
            ("stacks", c.stacks),
            ("events", 0),
            ("functions", self.functions.len() as u64),
            ("lanes", self.lanes as u64),
        ] {
            mp::str(s, k);
            mp::uint(s, v);
        }
        mp::str(s, "checksum");
        mp::uint(s, checksum as u64);
        if let Some((trace, span)) = &self.parent {
            mp::str(s, "parent");
            mp::map(s, 2);
            mp::str(s, "trace_id");
            mp::str(s, trace);
            mp::str(s, "span_id");
            mp::str(s, span);
        }
        mp::array(&mut self.batch, 2);
        mp::uint(&mut self.batch, 15);
        self.batch.extend_from_slice(&summary);
        let batch = std::mem::take(&mut self.batch);
        let _ = self.file.write_all(&frame::raw_frame(&batch));
        let _ = self.file.write_all(&frame::trailer(&summary));
        let _ = self.file.flush();
    }
}

/// This thread's lane, defined on its first event.
fn with_lane<R>(trace: &mut Trace, f: impl FnOnce(&mut Trace, u32, &mut Vec<u32>) -> R) -> R {
    LANE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let (lane, stack) = slot.get_or_insert_with(|| (trace.define_lane(), Vec::new()));
        f(trace, *lane, stack)
    })
}

/// The function id of a call site, defined on its first call.
pub fn function_id(slot: &AtomicU32, here: &'static str, file: &'static str, line: u32) -> u32 {
    let id = slot.load(Ordering::Relaxed);
    if id != u32::MAX {
        return id;
    }
    let Some(mut t) = lock() else { return u32::MAX };
    let id = slot.load(Ordering::Relaxed);
    if id != u32::MAX {
        return id;
    }
    let path = here.strip_suffix("::__orion_here").unwrap_or(here);
    let path = path.strip_suffix("::{{closure}}").unwrap_or(path);
    let (module, name) = path.rsplit_once("::").unwrap_or(("", path));
    let id = t.functions.len() as u32;
    let (name_sid, module_sid, file_sid) = (t.string(name), t.string(module), t.string(file));
    let b = &mut t.batch;
    mp::array(b, 6);
    mp::uint(b, 2);
    mp::uint(b, id as u64);
    mp::uint(b, name_sid as u64);
    mp::uint(b, module_sid as u64);
    mp::uint(b, file_sid as u64);
    mp::uint(b, line as u64);
    t.functions.push(name.to_string());
    t.counts.records += 1;
    slot.store(id, Ordering::Relaxed);
    id
}

/// Records a call of `function`; `args` is only evaluated when values are captured.
pub fn enter(function: u32, args: impl FnOnce() -> Vec<(&'static str, Captured)>) -> Call {
    let Some(mut t) = lock().filter(|t| !t.finished && function != u32::MAX) else {
        return Call {
            recording: false,
            values: false,
            returned: false,
        };
    };
    let values = t.mode == Mode::Dev;
    let args = values.then(args);
    with_lane(&mut t, |t, lane, stack| {
        let names: Vec<u32> = args.iter().flatten().map(|(n, _)| t.string(n)).collect();
        if let Some(args) = &args {
            for (_, v) in args {
                t.string(v.type_name);
            }
        }
        t.timed(4, 3 + args.is_some() as usize, lane);
        mp::uint(&mut t.batch, function as u64);
        if let Some(args) = &args {
            mp::array(&mut t.batch, args.len() * 2);
            for ((name, value), sid) in args.iter().zip(names) {
                mp::uint(&mut t.batch, sid as u64);
                t.value(Some(name), value);
            }
        }
        if t.root.is_none() {
            t.root = Some(t.functions[function as usize].clone());
        }
        t.counts.calls += 1;
        stack.push(function);
        t.end_batch();
    });
    Call {
        recording: true,
        values,
        returned: false,
    }
}

pub(crate) fn leave(value: Option<Captured>) {
    let Some(mut t) = lock().filter(|t| !t.finished) else {
        return;
    };
    let value = value.filter(|_| t.mode == Mode::Dev);
    with_lane(&mut t, |t, lane, stack| {
        if stack.pop().is_none() {
            return;
        }
        if let Some(v) = &value {
            t.string(v.type_name);
        }
        t.timed(5, 2 + value.is_some() as usize, lane);
        if let Some(v) = &value {
            t.value(None, v);
        }
        t.counts.returns += 1;
        t.end_batch();
    });
}

pub(crate) fn unwind() {
    let Some(mut t) = lock().filter(|t| !t.finished) else {
        return;
    };
    with_lane(&mut t, |t, lane, stack| {
        if stack.pop().is_none() {
            return;
        }
        t.timed(7, 3, lane);
        mp::nil(&mut t.batch);
        t.counts.unwinds += 1;
        t.end_batch();
    });
}

/// The panic as an exception raised in the innermost open call, with the thread's stack;
/// flushed at once so that an abort after it leaves it on disk.
fn record_panic(info: &std::panic::PanicHookInfo<'_>) {
    let Some(mut t) = lock().filter(|t| !t.finished) else {
        return;
    };
    let message = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "Box<dyn Any>".to_string());
    let (file, line) = info
        .location()
        .map(|l| (l.file().to_string(), l.line()))
        .unwrap_or_default();
    let on_main = std::thread::current().name() == Some("main");
    let lane = with_lane(&mut t, |t, lane, stack| {
        let type_sid = t.string("panic");
        t.timed(6, 6, lane);
        let b = &mut t.batch;
        mp::uint(b, 0);
        mp::uint(b, type_sid as u64);
        mp::str(b, &message);
        mp::uint(b, line as u64);
        t.counts.exceptions += 1;
        t.timed(9, 4, lane);
        let b = &mut t.batch;
        mp::str(b, "panic");
        mp::array(b, stack.len());
        for (i, function) in stack.iter().enumerate() {
            mp::array(b, 3);
            mp::uint(b, *function as u64);
            if i + 1 == stack.len() {
                mp::uint(b, line as u64)
            } else {
                mp::nil(b)
            }
            mp::nil(b);
        }
        t.counts.stacks += 1;
        lane
    });
    t.panic = Some(Panic {
        message,
        file,
        line,
        lane,
        on_main,
    });
    t.flush();
}

/// Ends the trace: the end record and the trailer. Called at exit; calls after it are not
/// recorded.
pub fn finish() {
    if let Some(Some(m)) = TRACE.get() {
        m.lock().unwrap_or_else(|e| e.into_inner()).finish();
    }
}

extern "C" fn finish_at_exit() {
    finish();
}

extern "C" {
    fn atexit(callback: extern "C" fn()) -> i32;
}

fn install_hooks() {
    // SAFETY: registers a plain function with the C library's exit handlers.
    unsafe {
        atexit(finish_at_exit);
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        record_panic(info);
        previous(info);
    }));
}
