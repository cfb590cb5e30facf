//! The traces of this process: the process's own, and one per running test (libtest runs
//! each test on a thread of its own). Events are packed into a batch and flushed as a frame
//! when the batch is full (64 KiB), every ~50 ms by a thread of the agent's (so a kill -9
//! loses at most ~100 ms or 64 KiB of events), when a panic is recorded (so an abort after
//! it leaves the panic on disk) and at the end.
//!
//! Compressing and writing a frame happen on the flushing thread (output.rs): a program's
//! thread only hands its full batch over.
//!
//! A trace is written at once (`dev`, `safe`) or **deferred**: its frames are kept in a
//! bounded ring in memory and written only when something fails (`error` mode's process
//! trace on a panic, a test's trace when the test fails). A deferred trace keeps its
//! definitions apart from its events, so that dropping old event frames never drops a
//! string or function that later events use. `error` mode's process trace takes its
//! lane records from each thread's own buffer (ring.rs), with no lock; its definitions
//! and the records that end it are written here, under the trace's lock.

use crate::clock;
use crate::config::{env, random_u64, selected, spool, utc_stamp};
use crate::output::Output;
use crate::{frame, msgpack as mp, redact, ring, Call, Captured};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once, OnceLock, TryLockError};
use std::time::Instant;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");
const FRAME_TARGET: usize = 64 * 1024;
/// How often the flushing thread writes the process trace's batch.
const FLUSH_EVERY: Duration = Duration::from_millis(50);
const RING_FRAME: usize = 32 * 1024;
const RING_FRAMES: usize = 32; // a deferred trace keeps its last ~1 MiB of events
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
    Error,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Dev => "dev",
            Mode::Safe => "safe",
            Mode::Error => "error",
        }
    }
}

/// ORION_MODE, read once; None is `off`.
#[inline]
fn mode() -> Option<Mode> {
    static MODE: OnceLock<Option<Mode>> = OnceLock::new();
    *MODE.get_or_init(|| match env("ORION_MODE").as_deref() {
        Some("off") => None,
        Some("safe") => Some(Mode::Safe),
        Some("error") => Some(Mode::Error),
        _ => Some(Mode::Dev),
    })
}

#[derive(Default, Clone, Copy)]
struct Counts {
    records: u64,
    calls: u64,
    returns: u64,
    unwinds: u64,
    exceptions: u64,
    crashes: u64,
    stacks: u64,
    events: u64,
}

impl Counts {
    /// Records of each type code, as ring.rs counts them.
    fn of(by_code: &[u64; 16]) -> Counts {
        Counts {
            records: by_code.iter().sum(),
            calls: by_code[4],
            returns: by_code[5],
            unwinds: by_code[7],
            exceptions: by_code[6],
            crashes: by_code[8],
            stacks: by_code[9],
            events: by_code[10],
        }
    }

    fn add(&mut self, other: &Counts) {
        self.records += other.records;
        self.calls += other.calls;
        self.returns += other.returns;
        self.unwinds += other.unwinds;
        self.exceptions += other.exceptions;
        self.crashes += other.crashes;
        self.stacks += other.stacks;
        self.events += other.events;
    }
}

struct Panic {
    message: String,
    file: String,
    line: u32,
    lane: u32,
    on_main: bool,
    /// False for a crash signal that no panic came before.
    panicked: bool,
    /// The crash signal that ended the process after (or instead of) a panic.
    signal: Option<Signal>,
}

/// A crash signal as its handler saw it (signals.rs); `address` is the faulting address
/// of a fault (SIGSEGV, SIGBUS, SIGILL, SIGFPE), None for a signal sent (abort()).
#[derive(Clone, Copy)]
pub(crate) struct Signal {
    pub number: i32,
    pub name: &'static str,
    pub address: Option<usize>,
    /// A fault at the end of the thread's stack.
    pub stack_overflow: bool,
    /// The process's exit status to come, as a shell gives it (128 + the fatal signal).
    pub exit_code: i32,
}

impl Signal {
    fn message(&self) -> String {
        match self.address {
            Some(address) if self.stack_overflow => {
                format!("stack overflow ({} at {address:#x})", self.name)
            }
            Some(address) => format!("killed by {} at {address:#x}", self.name),
            None => format!("killed by {}", self.name),
        }
    }
}

/// Where a trace's frames go.
enum Sink {
    File(Arc<Output>),
    /// Not written yet: the definitions, and the latest event frames with what they count
    /// (the header is made when the trace is written, saying whether the ring dropped any).
    Deferred {
        definitions: Vec<u8>,
        definition_records: u64,
        ring: VecDeque<(Vec<u8>, Counts)>,
        dropped: bool,
    },
}

/// A function as its call site defined it; each trace gives it an id of its own.
struct FunctionDef {
    name: String,
    module: String,
    file: &'static str,
    line: u32,
}

static FUNCTIONS: Mutex<Vec<FunctionDef>> = Mutex::new(Vec::new());

struct Trace {
    sink: Sink,
    path: PathBuf,
    mode: Mode,
    trace_id: String,
    /// The span id this trace gives in the `traceparent` it sends.
    span_id: u64,
    start_ns: u64,
    start: u64, // clock::now() at the start
    argv: Vec<String>,
    host: String,
    pid: u32,
    parent: Option<(String, String)>,
    test: Option<String>,
    batch: Vec<u8>,
    batch_counts: Counts,
    frame_t: i64,
    max_t: u64,
    strings: HashMap<String, u32>,
    secret_names: Vec<Option<bool>>, // by string id
    local_functions: Vec<u32>,
    function_names: Vec<String>,
    lanes: u32,
    counts: Counts,
    root: Option<String>,
    panic: Option<Panic>,
    finished: bool,
    /// The lanes' records are in their threads' buffers (ring.rs): `error` mode's process
    /// trace.
    ring: bool,
}

static PROCESS: OnceLock<Option<Mutex<Trace>>> = OnceLock::new();
/// Set when the process trace ends: its threads' buffers are no longer read.
static FINISHED: AtomicBool = AtomicBool::new(false);

/// A thread's lane in the process trace: its id, the function ids of its open calls and,
/// in `error` mode, the buffer its records go to.
struct Lane {
    id: u32,
    stack: Vec<u32>,
    buffer: Option<ring::Buffer>,
}

/// A test's trace, held by the thread that runs the test.
struct TestRun {
    trace: Trace,
    stack: Vec<u32>,
    expects_panic: bool,
}

thread_local! {
    /// This thread's lane in the process trace.
    static LANE: RefCell<Option<Lane>> = const { RefCell::new(None) };
    static TEST: RefCell<Option<Box<TestRun>>> = const { RefCell::new(None) };
    /// Whether TEST holds a test's trace: a plain flag, cheaper to read at every event.
    static IN_TEST: Cell<bool> = const { Cell::new(false) };
    /// Set while arguments or a return value are captured: a `Debug` impl that is traced
    /// itself is not recorded (and cannot deadlock on the trace).
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
}

fn process_trace() -> Option<&'static Mutex<Trace>> {
    PROCESS
        .get_or_init(|| {
            let mode = mode()?;
            install_hooks();
            Trace::open(mode, None, mode == Mode::Error).map(Mutex::new)
        })
        .as_ref()
}

/// The process trace's `orion-flush` thread: it writes the frames the program's threads
/// queue, as they come, and every FLUSH_EVERY queues the batch being filled. It holds the
/// trace's lock only to take the batch: compressing and writing happen outside it.
fn start_flushing(output: Arc<Output>) {
    let flusher = move || {
        let mut last_take = Instant::now();
        while output.wait(FLUSH_EVERY.saturating_sub(last_take.elapsed())) {
            if last_take.elapsed() >= FLUSH_EVERY {
                if let Some(Some(trace)) = PROCESS.get() {
                    let mut t = trace.lock().unwrap_or_else(|e| e.into_inner());
                    if t.finished {
                        return;
                    }
                    t.flush();
                }
                last_take = Instant::now();
            }
            output.write_queued();
        }
    };
    let _ = std::thread::Builder::new()
        .name("orion-flush".into())
        .spawn(flusher);
}

#[inline]
fn lock() -> Option<MutexGuard<'static, Trace>> {
    process_trace().map(|m| m.lock().unwrap_or_else(|e| e.into_inner()))
}

impl Trace {
    fn open(mode: Mode, test: Option<String>, deferred: bool) -> Option<Trace> {
        let start_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let trace_id = format!("{:016x}{:016x}", random_u64(), random_u64() | 1);
        let path = spool().join(format!("{}Z-{trace_id}.otrace", utc_stamp(start_ns)));
        let sink = if deferred {
            Sink::Deferred {
                definitions: Vec::new(),
                definition_records: 0,
                ring: VecDeque::new(),
                dropped: false,
            }
        } else {
            Sink::File(Self::output(create(&path)?, test.is_none()))
        };
        let process = test.is_none();
        let parent = env("ORION_PARENT").and_then(|p| {
            p.split_once('-')
                .map(|(t, s)| (t.to_string(), s.to_string()))
        });
        let mut trace = Trace {
            sink,
            path,
            mode,
            trace_id,
            span_id: random_u64() | 1,
            start_ns,
            start: clock::now(),
            argv: redact::redactor().scrub_argv(&std::env::args().collect::<Vec<_>>()),
            host: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_default(),
            pid: std::process::id(),
            parent,
            test,
            batch: Vec::with_capacity(if deferred { RING_FRAME } else { FRAME_TARGET } + 4096),
            batch_counts: Counts::default(),
            frame_t: 0,
            max_t: 0,
            strings: HashMap::new(),
            secret_names: Vec::new(),
            local_functions: Vec::new(),
            function_names: Vec::new(),
            lanes: 0,
            counts: Counts::default(),
            root: None,
            panic: None,
            finished: false,
            ring: deferred && process,
        };
        if !deferred {
            trace.header(false);
            trace.flush_to_disk(); // on disk before the program goes on: a kill leaves a header
        }
        Some(trace)
    }

    /// The output of a file being written; the process trace's is written by the
    /// flushing thread, a test's by the test's own thread as it ends.
    fn output(file: File, process: bool) -> Arc<Output> {
        let output = Arc::new(Output::new(file, process));
        if process {
            start_flushing(output.clone());
        }
        output
    }

    fn deferred(&self) -> bool {
        matches!(self.sink, Sink::Deferred { .. })
    }

    /// The header record; `window` says that a ring dropped older events (spec 6.3).
    fn header(&mut self, window: bool) {
        let extra = self.parent.is_some() as usize + self.test.is_some() as usize + window as usize;
        let b = &mut self.batch;
        mp::array(b, 2);
        mp::uint(b, 0);
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
        mp::str(b, self.mode.name());
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
            if redact::redactor().looks_secret(k) {
                mp::map(b, 2);
                mp::str(b, "t");
                mp::str(b, "str");
                mp::str(b, "redacted");
                mp::boolean(b, true);
            } else {
                mp::str(b, &redact::redactor().scrub(v));
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
        if let Some(test) = &self.test {
            mp::str(b, "name");
            mp::str(b, test);
        }
        if window {
            mp::str(b, "window");
            mp::str(b, "ring");
        }
        self.counts.records += 1;
    }

    /// Ends the batch's frame: queued for the file, or into the ring of a deferred trace (the
    /// oldest frame falling out when the ring is full).
    fn flush(&mut self) {
        if let (true, Sink::File(_)) = (self.ring, &self.sink) {
            self.queue_batch();
            self.take_lanes();
            return;
        }
        self.queue_batch();
    }

    /// The batch's frame: queued for the file, or into the ring of a deferred trace.
    fn queue_batch(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let counts = std::mem::take(&mut self.batch_counts);
        match &mut self.sink {
            Sink::File(output) => {
                let records = std::mem::take(&mut self.batch);
                self.batch = output.queue(records, FRAME_TARGET + 4096);
                self.counts.add(&counts);
            }
            Sink::Deferred { ring, dropped, .. } => {
                if ring.len() == RING_FRAMES {
                    ring.pop_front();
                    *dropped = true;
                }
                let frame =
                    std::mem::replace(&mut self.batch, Vec::with_capacity(RING_FRAME + 4096));
                ring.push_back((frame, counts));
            }
        }
        self.frame_t = 0;
    }

    /// The records of the threads' buffers not written yet go to the file, in time order
    /// (after the batch, which holds the definitions they use).
    fn take_lanes(&mut self) {
        if let Some(drained) = ring::drain(FRAME_TARGET) {
            self.write_drained(drained);
        }
    }

    fn write_drained(&mut self, drained: ring::Drained) {
        let Sink::File(output) = &self.sink else {
            return;
        };
        for records in drained.frames {
            output.queue(records, 0);
        }
        self.counts.add(&Counts::of(&drained.by_code));
        self.max_t = self.max_t.max(drained.max_t);
    }

    /// Before a record written here on a lane of the threads' buffers: what they recorded
    /// goes first, so that no lane's time goes back in the file.
    fn catch_up(&mut self) {
        if self.ring {
            self.materialize();
            self.flush();
        }
    }

    /// Everything recorded so far goes to disk now (an abort may follow).
    fn flush_to_disk(&mut self) {
        self.flush();
        if let Sink::File(output) = &self.sink {
            output.write_queued();
        }
    }

    /// A deferred trace goes to disk: its header, definitions and ring, then on as a file.
    fn materialize(&mut self) {
        if !self.deferred() {
            return;
        }
        self.flush();
        let Some(file) = create(&self.path) else {
            return;
        };
        let output = Self::output(file, self.test.is_none());
        let Sink::Deferred {
            definitions,
            definition_records,
            ring,
            dropped,
        } = std::mem::replace(&mut self.sink, Sink::File(output.clone()))
        else {
            return;
        };
        // Taken before the header: once taken, the threads' records are no longer dropped.
        let drained = if self.ring {
            ring::drain(FRAME_TARGET)
        } else {
            None
        };
        self.header(dropped || drained.as_ref().is_some_and(|d| d.dropped));
        let header = std::mem::take(&mut self.batch);
        output.queue(header, 0);
        output.queue(definitions, 0);
        self.counts.records += definition_records;
        for (records, counts) in ring {
            output.queue(records, 0);
            self.counts.add(&counts);
        }
        if let Some(drained) = drained {
            self.write_drained(drained);
        }
        output.write_queued(); // what led to the failure, on disk before a crash can follow
    }

    /// Where definitions go: inline, or apart for a deferred trace.
    fn definitions(&mut self) -> &mut Vec<u8> {
        match &mut self.sink {
            Sink::Deferred {
                definitions,
                definition_records,
                ..
            } => {
                *definition_records += 1;
                definitions
            }
            Sink::File(_) => {
                self.batch_counts.records += 1;
                &mut self.batch
            }
        }
    }

    fn string(&mut self, text: &str) -> u32 {
        if let Some(&id) = self.strings.get(text) {
            return id;
        }
        let id = self.strings.len() as u32;
        self.strings.insert(text.to_string(), id);
        let b = self.definitions();
        mp::array(b, 3);
        mp::uint(b, 1);
        mp::uint(b, id as u64);
        mp::str(b, text);
        id
    }

    /// This trace's id of the function the call sites registry knows as `global`.
    fn function(&mut self, global: u32) -> u32 {
        let index = global as usize;
        if let Some(&id) = self
            .local_functions
            .get(index)
            .filter(|&&id| id != u32::MAX)
        {
            return id;
        }
        let (name, module, file, line) = {
            let registry = FUNCTIONS.lock().unwrap_or_else(|e| e.into_inner());
            let def = &registry[index];
            (def.name.clone(), def.module.clone(), def.file, def.line)
        };
        let id = self.function_names.len() as u32;
        let (name_sid, module_sid, file_sid) =
            (self.string(&name), self.string(&module), self.string(file));
        let b = self.definitions();
        mp::array(b, 6);
        mp::uint(b, 2);
        mp::uint(b, id as u64);
        mp::uint(b, name_sid as u64);
        mp::uint(b, module_sid as u64);
        mp::uint(b, file_sid as u64);
        mp::uint(b, line as u64);
        self.function_names.push(name);
        if self.local_functions.len() <= index {
            self.local_functions.resize(index + 1, u32::MAX);
        }
        self.local_functions[index] = id;
        id
    }

    /// This thread's lane, defined now; in a trace of the threads' buffers, with its buffer.
    fn new_lane(&mut self) -> Lane {
        Lane {
            id: self.define_lane(),
            stack: Vec::new(),
            buffer: self.ring.then(|| ring::Buffer::new(self.start)),
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
        let b = self.definitions();
        mp::array(b, 6);
        mp::uint(b, 3);
        mp::uint(b, id as u64);
        mp::uint(b, name_sid as u64);
        mp::uint(b, kind_sid as u64);
        mp::nil(b);
        mp::nil(b); // the spawning thread is not known
        id
    }

    /// Starts a timed record of `columns` columns after the code: code, dt, lane. In
    /// `error` mode calls and returns read the clock at every CLOCK_EVERY-th record of a
    /// batch (the others take the last time read): reading it was over a third of a ring
    /// event's cost. Panics, unwinds and crashes always read it.
    fn timed(&mut self, code: u8, columns: usize, lane: u32) {
        let sampled = self.mode == Mode::Error && matches!(code, 4 | 5);
        let t = if sampled
            && !self
                .batch_counts
                .records
                .is_multiple_of(ring::CLOCK_EVERY as u64)
        {
            self.max_t as i64
        } else {
            clock::now().saturating_sub(self.start) as i64
        };
        mp::array(&mut self.batch, columns + 1);
        mp::uint(&mut self.batch, code as u64);
        mp::int(&mut self.batch, t - self.frame_t);
        mp::uint(&mut self.batch, lane as u64);
        self.frame_t = t;
        self.max_t = self.max_t.max(t as u64);
        self.batch_counts.records += 1;
    }

    /// Whether the name interned as `sid` looks secret, decided once per name.
    fn is_secret(&mut self, sid: u32, name: &str) -> bool {
        let index = sid as usize;
        if self.secret_names.len() <= index {
            self.secret_names.resize(index + 1, None);
        }
        *self.secret_names[index].get_or_insert_with(|| redact::redactor().looks_secret(name))
    }

    /// A captured value (spec section 7): a text node with the type name, a redacted node,
    /// or the type name alone for a type without `Debug`. Its type name is defined already.
    fn value(&mut self, secret: bool, value: &Captured) {
        let type_sid = self.strings[value.type_name];
        let b = &mut self.batch;
        if secret {
            mp::array(b, 2);
            mp::uint(b, 4);
            mp::uint(b, type_sid as u64);
            return;
        }
        let scrubbed = value.text.as_deref().map(|t| redact::redactor().scrub(t));
        let text = scrubbed.as_deref().unwrap_or(value.type_name);
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

    fn end_batch(&mut self) {
        let limit = if self.deferred() {
            RING_FRAME
        } else {
            FRAME_TARGET
        };
        if self.batch.len() >= limit {
            self.flush();
        }
    }

    fn call(
        &mut self,
        global: u32,
        lane: u32,
        stack: &mut Vec<u32>,
        args: Option<&[(&str, Captured)]>,
    ) {
        let function = self.function(global);
        for (name, value) in args.unwrap_or_default() {
            self.string(name);
            self.string(value.type_name);
        }
        self.timed(4, 3 + args.is_some() as usize, lane);
        mp::uint(&mut self.batch, function as u64);
        if let Some(args) = args {
            mp::array(&mut self.batch, args.len() * 2);
            for (name, value) in args {
                let sid = self.strings[*name];
                mp::uint(&mut self.batch, sid as u64);
                let secret = self.is_secret(sid, name);
                self.value(secret, value);
            }
        }
        if self.root.is_none() {
            self.root = Some(self.function_names[function as usize].clone());
        }
        self.batch_counts.calls += 1;
        stack.push(function);
        self.end_batch();
    }

    fn leave(&mut self, lane: u32, stack: &mut Vec<u32>, value: Option<&Captured>) {
        if stack.pop().is_none() {
            return;
        }
        if let Some(v) = value {
            self.string(v.type_name);
        }
        self.timed(5, 2 + value.is_some() as usize, lane);
        if let Some(v) = value {
            self.value(false, v);
        }
        self.batch_counts.returns += 1;
        self.end_batch();
    }

    fn unwind(&mut self, lane: u32, stack: &mut Vec<u32>) {
        if stack.pop().is_none() {
            return;
        }
        self.timed(7, 3, lane);
        mp::nil(&mut self.batch);
        self.batch_counts.unwinds += 1;
        self.end_batch();
    }

    /// A happening (a `tracing` event, an HTTP request) with its attributes as plain values.
    fn event(&mut self, lane: u32, kind: &str, attrs: &[(&str, Attr)]) {
        let kind_sid = self.string(kind);
        self.timed(10, 4, lane);
        event_columns(&mut self.batch, kind_sid, attrs);
        self.batch_counts.events += 1;
        self.end_batch();
    }

    /// The panic as an exception raised in the innermost open call, with the lane's stack.
    fn panic(&mut self, lane: u32, stack: &[u32], panic: Panic) {
        let type_sid = self.string("panic");
        self.timed(6, 6, lane);
        let b = &mut self.batch;
        mp::uint(b, 0);
        mp::uint(b, type_sid as u64);
        mp::str(b, &panic.message);
        mp::uint(b, panic.line as u64);
        self.batch_counts.exceptions += 1;
        self.timed(9, 4, lane);
        let b = &mut self.batch;
        mp::str(b, "panic");
        mp::array(b, stack.len());
        for (i, function) in stack.iter().enumerate() {
            mp::array(b, 3);
            mp::uint(b, *function as u64);
            if i + 1 == stack.len() {
                mp::uint(b, panic.line as u64)
            } else {
                mp::nil(b)
            }
            mp::nil(b);
        }
        self.batch_counts.stacks += 1;
        if self.panic.is_none() {
            self.panic = Some(panic);
        }
    }

    /// A crash signal on `lane`: the lane's stack (unless a panic on the lane recorded it
    /// already, as before the abort of `panic = "abort"`), and the failure the trace ends
    /// with, the panic's when one came first.
    fn signal(&mut self, lane: u32, stack: &[u32], signal: Signal) {
        if self.panic.as_ref().is_none_or(|p| p.lane != lane) {
            self.timed(9, 4, lane);
            let b = &mut self.batch;
            mp::str(b, "signal");
            mp::array(b, stack.len());
            for function in stack {
                mp::array(b, 3);
                mp::uint(b, *function as u64);
                mp::nil(b);
                mp::nil(b);
            }
            self.batch_counts.stacks += 1;
        }
        let failure = self.panic.get_or_insert_with(|| Panic {
            message: signal.message(),
            file: String::new(),
            line: 0,
            lane,
            on_main: false,
            panicked: false,
            signal: None,
        });
        failure.signal = Some(signal);
    }

    /// Ends the trace: the end record and the trailer. A deferred trace that saw no
    /// failure is dropped unwritten.
    fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        if self.ring {
            FINISHED.store(true, Ordering::Relaxed);
        }
        let failed = self.panic.is_some();
        let signal = self.panic.as_ref().and_then(|p| p.signal);
        let crashed = signal.is_some()
            || self.test.is_none() && self.panic.as_ref().is_some_and(|p| p.on_main);
        if self.deferred() && !failed {
            if self.ring {
                ring::close();
            }
            return;
        }
        self.materialize();
        self.catch_up();
        if crashed {
            let (message, file, line, lane) = self
                .panic
                .as_ref()
                .map(|p| (p.message.clone(), p.file.clone(), p.line, p.lane))
                .unwrap_or_default();
            self.timed(8, 6, lane);
            let b = &mut self.batch;
            match signal {
                Some(signal) => {
                    mp::str(b, "signal");
                    mp::str(b, signal.name);
                    mp::str(b, &message);
                    mp::map(b, 2);
                    mp::str(b, "signal");
                    mp::uint(b, signal.number as u64);
                    mp::str(b, "address");
                    mp::uint(b, signal.address.unwrap_or(0) as u64);
                }
                None => {
                    mp::str(b, "panic");
                    mp::str(b, "panic");
                    mp::str(b, &message);
                    mp::map(b, 2);
                    mp::str(b, "file");
                    mp::str(b, &file);
                    mp::str(b, "line");
                    mp::uint(b, line as u64);
                }
            }
            self.batch_counts.crashes += 1;
        }
        let mut counts = self.counts;
        counts.add(&self.batch_counts);
        let status = match (crashed, self.test.is_some() && failed) {
            (true, _) => "crashed",
            (false, true) => "failed",
            _ => "ok",
        };
        let checksum = match &self.sink {
            Sink::File(output) => output.checksum_with(&self.batch),
            Sink::Deferred { .. } => 0,
        };
        let mut summary = Vec::new();
        let s = &mut summary;
        let extra = self.parent.is_some() as usize + 2 * self.test.is_some() as usize;
        mp::map(s, 14 + extra);
        mp::str(s, "trace_id");
        mp::str(s, &self.trace_id);
        mp::str(s, "status");
        mp::str(s, status);
        mp::str(s, "language");
        mp::str(s, "rust");
        mp::str(s, "mode");
        mp::str(s, self.mode.name());
        mp::str(s, "start_ns");
        mp::uint(s, self.start_ns);
        mp::str(s, "duration_ns");
        mp::uint(s, self.max_t.max(clock::now().saturating_sub(self.start)));
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
        match &self.panic {
            Some(p) if status != "ok" => {
                let (exc_type, kind) = match p.signal {
                    Some(signal) if !p.panicked => (signal.name, "signal"),
                    _ => ("panic", "panic"),
                };
                mp::map(s, 3);
                mp::str(s, "type");
                mp::str(s, exc_type);
                mp::str(s, "message");
                mp::str(s, &p.message);
                mp::str(s, "kind");
                mp::str(s, kind);
            }
            _ => mp::nil(s),
        }
        mp::str(s, "exit_code");
        match signal {
            Some(signal) => mp::uint(s, signal.exit_code as u64),
            None if crashed => mp::uint(s, 101),
            None => mp::nil(s),
        }
        mp::str(s, "counts");
        mp::map(s, 10);
        for (k, v) in [
            ("records", counts.records),
            ("calls", counts.calls),
            ("returns", counts.returns),
            ("unwinds", counts.unwinds),
            ("exceptions", counts.exceptions),
            ("crashes", counts.crashes),
            ("stacks", counts.stacks),
            ("events", counts.events),
            ("functions", self.function_names.len() as u64),
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
        if let Some(test) = &self.test {
            mp::str(s, "name");
            mp::str(s, test);
            mp::str(s, "test");
            mp::map(s, 2);
            mp::str(s, "id");
            mp::str(s, test);
            mp::str(s, "outcome");
            mp::str(s, if failed { "failed" } else { "passed" });
        }
        mp::array(&mut self.batch, 2);
        mp::uint(&mut self.batch, 15);
        self.batch.extend_from_slice(&summary);
        if let Sink::File(output) = &self.sink {
            output.close(&self.batch, &frame::trailer(&summary));
        }
        if self.ring {
            ring::close();
        }
    }
}

/// An event record's columns after its lane: its kind and its attributes as plain values.
fn event_columns(b: &mut Vec<u8>, kind_sid: u32, attrs: &[(&str, Attr)]) {
    mp::uint(b, kind_sid as u64);
    mp::map(b, attrs.len());
    for (name, value) in attrs {
        mp::str(b, name);
        match value {
            Attr::Text(text) => {
                let cut: String = redact::redactor()
                    .scrub(text)
                    .chars()
                    .take(STRING_LIMIT * 20)
                    .collect();
                mp::str(b, &cut);
            }
            Attr::Number(n) => mp::uint(b, *n),
        }
    }
}

/// A new trace file in the spool, its prelude written and its path reported.
fn create(path: &std::path::Path) -> Option<File> {
    std::fs::create_dir_all(path.parent()?).ok()?;
    let mut file = File::create(path).ok()?;
    file.write_all(&frame::prelude()).ok()?;
    if let Some(report) = env("ORION_REPORT") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(report)
        {
            let _ = writeln!(f, "{}", path.display());
        }
    }
    Some(file)
}

/// Runs `f` on the trace this thread records into (its test's, else the process's) with
/// the thread's lane and stack there.
fn with_current<R>(f: impl FnOnce(&mut Trace, u32, &mut Vec<u32>) -> R) -> Option<R> {
    let mut f = Some(f);
    let in_test = IN_TEST
        .with(Cell::get)
        .then(|| {
            TEST.with(|cell| {
                let mut slot = cell.try_borrow_mut().ok()?;
                let run = slot.as_mut()?;
                let f = f.take()?;
                Some(f(&mut run.trace, 0, &mut run.stack))
            })
        })
        .flatten();
    if in_test.is_some() {
        return in_test;
    }
    let f = f?;
    let mut t = lock().filter(|t| !t.finished)?;
    let mut slot = this_lane()?.try_borrow_mut().ok()?;
    if slot.is_none() {
        *slot = Some(t.new_lane());
    }
    let lane = slot.as_mut()?;
    Some(f(&mut t, lane.id, &mut lane.stack))
}

/// This thread's LANE, reached directly: `LANE.with` with the work inside its closure
/// stayed a call that reached the thread-local through the key's accessor (from another
/// crate, where `enter` is instantiated), a call more per event. The reference is for this
/// thread's use at once, never to be kept.
#[inline(always)]
fn this_lane() -> Option<&'static RefCell<Option<Lane>>> {
    let cell: *const RefCell<Option<Lane>> = LANE.try_with(|cell| cell as *const _).ok()?;
    // SAFETY: a thread's own thread-local lives until the thread's exit, which cannot
    // begin while the thread runs the caller.
    Some(unsafe { &*cell })
}

/// Whether this thread records into its own buffer (`error` mode's process trace, not a
/// test's trace).
#[inline]
fn in_ring() -> bool {
    mode() == Some(Mode::Error) && !IN_TEST.with(Cell::get)
}

/// Runs `f` on this thread's lane of `error` mode's process trace and its buffer, without
/// the trace's lock (taken only to define the lane, on the thread's first record).
#[inline]
fn with_buffer<R>(f: impl FnOnce(u32, &mut Vec<u32>, &mut ring::Buffer) -> R) -> Option<R> {
    if FINISHED.load(Ordering::Relaxed) {
        return None;
    }
    let mut slot = this_lane()?.try_borrow_mut().ok()?;
    if slot.is_none() {
        first_lane(&mut slot)?;
    }
    let Lane { id, stack, buffer } = slot.as_mut()?;
    Some(f(*id, stack, buffer.as_mut()?))
}

/// Gives the thread its lane, at its first record: out of line, so that the event's own
/// path moves no `Lane` and saves fewer registers.
#[cold]
#[inline(never)]
fn first_lane(slot: &mut Option<Lane>) -> Option<()> {
    *slot = Some(lock().filter(|t| !t.finished)?.new_lane());
    Some(())
}

/// `error` mode's call of `function` into this thread's buffer: whether it was recorded,
/// None when this thread records a test's trace instead. Not generic, so that its
/// thread-locals are read directly, not through another crate's `LocalKey`.
fn buffer_call(function: u32) -> Option<bool> {
    if IN_TEST.with(Cell::get) {
        return None;
    }
    if CAPTURING.with(Cell::get) {
        return Some(false);
    }
    let recorded = with_buffer(|lane, stack, buffer| {
        let function = buffer_function(function)?;
        buffer.call(lane, function);
        stack.push(function);
        Some(())
    });
    Some(recorded.flatten().is_some())
}

/// How many registry functions `error` mode's process trace has defined. It defines them
/// in the registry's order, so that its function ids are the registry's own and a
/// thread's call needs no table to find one.
static DEFINED: AtomicU32 = AtomicU32::new(0);

/// The process trace's id of a registry function, for a thread's buffer: the same.
#[inline]
fn buffer_function(global: u32) -> Option<u32> {
    if global < DEFINED.load(Ordering::Acquire) {
        return Some(global);
    }
    define_functions_up_to(global)
}

#[cold]
#[inline(never)]
fn define_functions_up_to(global: u32) -> Option<u32> {
    let mut t = lock()?;
    let defined = DEFINED.load(Ordering::Relaxed);
    for next in defined..=global {
        if t.function(next) != next {
            return None; // the trace defined a function of its own: not this path's
        }
    }
    if t.root.is_none() {
        t.root = Some(t.function_names[global as usize].clone());
    }
    DEFINED.store(defined.max(global + 1), Ordering::Release);
    Some(global)
}

/// Runs a capture (user `Debug` code) with nested traced calls left unrecorded.
pub(crate) fn capturing<R>(capture: impl FnOnce() -> R) -> R {
    CAPTURING.with(|c| c.set(true));
    let result = capture();
    CAPTURING.with(|c| c.set(false));
    result
}

/// The registry id of a call site's function, defined on its first call. Inlined into the
/// traced crate: every call pays this check, only the first the registration.
#[inline]
pub fn function_id(slot: &AtomicU32, here: &'static str, file: &'static str, line: u32) -> u32 {
    let id = slot.load(Ordering::Relaxed);
    if id != u32::MAX {
        return id;
    }
    register(slot, here, file, line)
}

#[cold]
fn register(slot: &AtomicU32, here: &'static str, file: &'static str, line: u32) -> u32 {
    let mut registry = FUNCTIONS.lock().unwrap_or_else(|e| e.into_inner());
    let id = slot.load(Ordering::Relaxed);
    if id != u32::MAX {
        return id;
    }
    let (module, name) = module_and_name(here.strip_suffix("::__orion_here").unwrap_or(here));
    let id = registry.len() as u32;
    registry.push(FunctionDef {
        name,
        module: module.to_string(),
        file,
        line,
    });
    slot.store(id, Ordering::Relaxed);
    id
}

/// A function's module and name from its path: a closure is named after the function it is
/// written in, `outer::{closure}` (`type_name` spells it `outer::{{closure}}`).
fn module_and_name(path: &str) -> (&str, String) {
    let mut outer = path;
    while let Some(rest) = outer.strip_suffix("::{{closure}}") {
        outer = rest;
    }
    let (module, function) = outer.rsplit_once("::").unwrap_or(("", outer));
    let closures = "::{closure}".repeat((path.len() - outer.len()) / "::{{closure}}".len());
    (module, format!("{function}{closures}"))
}

/// The registry id of a function known by its name and place (a `tracing` span's).
#[cfg(feature = "tracing")]
pub(crate) fn register_function(name: &str, module: &str, file: &'static str, line: u32) -> u32 {
    let mut registry = FUNCTIONS.lock().unwrap_or_else(|e| e.into_inner());
    registry.push(FunctionDef {
        name: name.to_string(),
        module: module.to_string(),
        file,
        line,
    });
    registry.len() as u32 - 1
}

/// An event attribute's value: text (secrets scrubbed, cut) or a number.
pub(crate) enum Attr {
    Text(String),
    Number(u64),
}

impl From<String> for Attr {
    fn from(text: String) -> Attr {
        Attr::Text(text)
    }
}

/// Records an event of `kind` on this thread's lane (nothing when off).
pub(crate) fn event<A: Into<Attr>>(kind: &str, attrs: impl FnOnce() -> Vec<(&'static str, A)>) {
    if mode().is_none() || CAPTURING.with(Cell::get) {
        return;
    }
    let attrs: Vec<(&str, Attr)> = capturing(attrs)
        .into_iter()
        .map(|(name, value)| (name, value.into()))
        .collect();
    if !in_ring() {
        with_current(|t, lane, _| t.event(lane, kind, &attrs));
        return;
    }
    let Some(kind_sid) = lock().filter(|t| !t.finished).map(|mut t| t.string(kind)) else {
        return;
    };
    let mut rest = Vec::new();
    event_columns(&mut rest, kind_sid, &attrs);
    with_buffer(|lane, _, buffer| buffer.record(10, 2, lane, &rest));
}

/// The W3C `traceparent` of the trace this thread records into: its trace id and a span
/// id of the trace's own.
pub(crate) fn traceparent() -> Option<String> {
    mode()?;
    with_current(|t, _, _| format!("00-{}-{:016x}-01", t.trace_id, t.span_id))
}

/// Records a call of `function`; `args` is only evaluated when values are captured.
/// Inlined into the traced crate: `error` mode's call into the thread's buffer is the
/// common case and builds its guard in registers; the other modes are out of line.
#[inline]
pub fn enter(function: u32, args: impl FnOnce() -> Vec<(&'static str, Captured)>) -> Call {
    if mode() == Some(Mode::Error) && function != u32::MAX {
        if let Some(recording) = buffer_call(function) {
            return Call {
                recording,
                values: false,
                returned: false,
                buffered: true,
            };
        }
    }
    trace_enter(function, args)
}

/// A call into the trace (a test's, or `safe` or `dev` mode's process trace).
fn trace_enter(function: u32, args: impl FnOnce() -> Vec<(&'static str, Captured)>) -> Call {
    let inert = Call {
        recording: false,
        values: false,
        returned: false,
        buffered: false,
    };
    let Some(mode) = mode() else { return inert };
    if function == u32::MAX || CAPTURING.with(Cell::get) {
        return inert;
    }
    let values = mode == Mode::Dev;
    let args = values.then(|| capturing(args));
    let recorded = with_current(|t, lane, stack| t.call(function, lane, stack, args.as_deref()));
    Call {
        recording: recorded.is_some(),
        values,
        returned: false,
        buffered: false,
    }
}

/// The end of a call; `buffered` when its call went to this thread's `error`-mode buffer
/// (which records no values).
#[inline]
pub(crate) fn leave(buffered: bool, value: Option<Captured>) {
    if buffered {
        buffer_leave();
    } else {
        trace_leave(value);
    }
}

/// `error` mode's return into this thread's buffer: a function of its own, with no value
/// to drop, so that it saves few registers.
fn buffer_leave() {
    with_buffer(|lane, stack, buffer| stack.pop().map(|_| buffer.leave(lane)));
}

fn trace_leave(value: Option<Captured>) {
    with_current(|t, lane, stack| t.leave(lane, stack, value.as_ref()));
    end_test_when_done();
}

pub(crate) fn unwind(buffered: bool) {
    if buffered {
        with_buffer(|lane, stack, buffer| stack.pop().map(|_| buffer.unwind(lane)));
        return;
    }
    with_current(|t, lane, stack| t.unwind(lane, stack));
    end_test_when_done();
}

/// Starts the trace of the test about to run on this thread (`#[orion::trace]` on a
/// `#[test]` function): libtest names the thread after the test. It is written only if
/// the test fails: a panic, unless the test expects one (`#[should_panic]`).
pub fn test_starts(expects_panic: bool, path: &'static str) {
    let Some(mode) = mode() else { return };
    install_hooks();
    let id = match std::thread::current().name() {
        Some(name) if name != "main" => name.to_string(),
        _ => path
            .split_once("::")
            .map_or(path, |(_, rest)| rest)
            .to_string(),
    };
    let Some(mut trace) = Trace::open(mode, Some(id), true) else {
        return;
    };
    trace.define_lane();
    TEST.with(|cell| {
        if let Ok(mut slot) = cell.try_borrow_mut() {
            *slot = Some(Box::new(TestRun {
                trace,
                stack: Vec::new(),
                expects_panic,
            }));
            IN_TEST.with(|flag| flag.set(true));
        }
    });
}

/// A test's trace ends with the test function's call.
fn end_test_when_done() {
    if !IN_TEST.with(Cell::get) {
        return;
    }
    let done = TEST.with(|cell| {
        let mut slot = cell.try_borrow_mut().ok()?;
        if slot.as_ref()?.stack.is_empty() {
            IN_TEST.with(|flag| flag.set(false));
            slot.take()
        } else {
            None
        }
    });
    if let Some(mut run) = done {
        if run.expects_panic {
            run.trace.panic = None;
        }
        run.trace.finish();
    }
}

fn record_panic(info: &std::panic::PanicHookInfo<'_>) {
    let message = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .map(|m| redact::redactor().scrub(&m))
        .unwrap_or_else(|| "Box<dyn Any>".to_string());
    let (file, line) = info
        .location()
        .map(|l| (l.file().to_string(), l.line()))
        .unwrap_or_default();
    let on_main = std::thread::current().name() == Some("main");
    with_current(|t, lane, stack| {
        let process = t.test.is_none();
        if process {
            t.catch_up();
        }
        t.panic(
            lane,
            stack,
            Panic {
                message,
                file,
                line,
                lane,
                on_main,
                panicked: true,
                signal: None,
            },
        );
        // The process's trace goes to disk now (error mode's ring too): an abort may follow.
        if process {
            t.materialize();
            t.flush_to_disk();
        }
    });
}

/// Records a crash signal into this thread's test trace and the process's trace and ends
/// both (called by the signal handler, signals.rs). Frames are no longer compressed. A
/// trace whose lock stays taken for 250 ms (by the crashing thread itself, inside the
/// agent) is left as it is.
pub(crate) fn record_signal(signal: Signal) {
    if crate::output::writing_here() {
        return; // a crash inside the writer: the file's lock is this thread's own
    }
    frame::compress_no_more();
    if IN_TEST.try_with(Cell::get).unwrap_or(false) {
        let _ = TEST.try_with(|cell| {
            if let Some(mut run) = cell.try_borrow_mut().ok().and_then(|mut slot| slot.take()) {
                let stack = run.stack.clone();
                run.trace.signal(0, &stack, signal);
                run.trace.finish();
            }
        });
    }
    let Some(Some(trace)) = PROCESS.get() else {
        return;
    };
    let deadline = Instant::now() + Duration::from_millis(250);
    let mut t = loop {
        match trace.try_lock() {
            Ok(t) => break t,
            Err(TryLockError::Poisoned(e)) => break e.into_inner(),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => std::thread::yield_now(),
            Err(TryLockError::WouldBlock) => return,
        }
    };
    if t.finished {
        return;
    }
    let known = LANE
        .try_with(|cell| {
            let slot = cell.try_borrow().ok()?;
            slot.as_ref().map(|lane| (lane.id, lane.stack.clone()))
        })
        .ok()
        .flatten();
    let (lane, stack) = known.unwrap_or_else(|| (t.define_lane(), Vec::new()));
    t.catch_up();
    t.signal(lane, &stack, signal);
    t.finish();
}

/// Ends the process's trace: the end record and the trailer. Called at exit; calls after
/// it are not recorded.
pub fn finish() {
    if let Some(Some(m)) = PROCESS.get() {
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
    static HOOKS: Once = Once::new();
    HOOKS.call_once(|| {
        // SAFETY: registers a plain function with the C library's exit handlers.
        unsafe {
            atexit(finish_at_exit);
        }
        crate::signals::install();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            record_panic(info);
            previous(info);
        }));
    });
}
