//! Per-call cost of `#[orion::trace]`, in one run against the same functions untraced and
//! against `#[tracing::instrument]` with tracing-subscriber's JSON layer (span close
//! events into a file): a call-dense workload (fib) and a realistic one (serde_json over a
//! few thousand records). Medians of 21 runs in the program thread's CPU time (and the
//! traced fib's in process CPU time, the agent's flushing thread included).
//!
//! Usage: ORION_MODE=dev|safe|error ORION_SPOOL=DIR orion-rust-bench [N] [RECORDS]
//! (`tracing` is measured in the same process; the mode applies to orion only).
//! ORION_BENCH_PROFILE=1 runs the traced fib alone, for `perf record`; ORION_BENCH_PROFILE=json
//! the traced serde_json workload alone.

use serde::{Deserialize, Serialize};

/// The workload's functions, defined once per module with the attribute given.
macro_rules! workload {
    ($($attr:meta)?) => {
        use super::Record;

        $(#[$attr])?
        pub fn fib(n: u64) -> u64 {
            if n < 2 {
                return n;
            }
            fib(n - 1) + fib(n - 2)
        }

        $(#[$attr])?
        pub fn score(record: &Record) -> u64 {
            record.tags.iter().map(|t| t.len() as u64).sum::<u64>() + record.amount / 7
        }

        $(#[$attr])?
        pub fn normalise(record: Record) -> Record {
            Record { name: record.name.to_lowercase(), ..record }
        }

        $(#[$attr])?
        pub fn process(json: &str) -> (u64, usize) {
            let records: Vec<Record> = serde_json::from_str(json).unwrap();
            let records: Vec<Record> = records.into_iter().map(normalise).collect();
            let total = records.iter().map(score).sum();
            (total, serde_json::to_string(&records).unwrap().len())
        }
    };
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    id: u64,
    name: String,
    amount: u64,
    tags: Vec<String>,
}

mod plain {
    workload!();
}
mod traced {
    workload!(orion::trace);
}
mod spans {
    workload!(tracing::instrument(skip_all));
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[xs.len() / 2]
}

#[repr(C)]
struct Timespec {
    seconds: i64,
    nanoseconds: i64,
}

extern "C" {
    fn clock_gettime(clock: i32, time: *mut Timespec) -> i32;
}

const THREAD_CPU: i32 = 3; // CLOCK_THREAD_CPUTIME_ID
const PROCESS_CPU: i32 = 2; // CLOCK_PROCESS_CPUTIME_ID: the agent's flushing thread too

/// CPU time in seconds: on a shared machine, time spent waiting for a core does not count.
fn cpu_time(clock: i32) -> f64 {
    let mut time = Timespec { seconds: 0, nanoseconds: 0 };
    // SAFETY: clock_gettime writes one timespec into `time`.
    unsafe { clock_gettime(clock, &mut time) };
    time.seconds as f64 + time.nanoseconds as f64 * 1e-9
}

/// The median of RUNS runs of `f` in the program thread's CPU time.
fn time(f: &dyn Fn()) -> f64 {
    time_on(THREAD_CPU, f)
}

fn time_on(clock: i32, f: &dyn Fn()) -> f64 {
    median(
        (0..RUNS)
            .map(|_| {
                let t = cpu_time(clock);
                f();
                cpu_time(clock) - t
            })
            .collect(),
    )
}

const RUNS: usize = 21;

/// The medians of `a` and `b` run in turn, RUNS times each: the machine's load drifts, and
/// a ratio of two medians taken minutes apart says more of the drift than of the agent.
fn time_pair(a: &dyn Fn(), b: &dyn Fn()) -> (f64, f64) {
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        for (f, out) in [(a, &mut xs), (b, &mut ys)] {
            let t = cpu_time(THREAD_CPU);
            f();
            out.push(cpu_time(THREAD_CPU) - t);
        }
    }
    (median(xs), median(ys))
}

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>().ok());
    let n = args.next().flatten().unwrap_or(20);
    let count = args.next().flatten().unwrap_or(3000);
    let fib_calls = (0..n).fold((1u64, 1u64), |(a, b), _| (b, a + b)).0 * 2 - 1;
    let records: Vec<Record> = (0..count)
        .map(|id| Record {
            id,
            name: format!("Customer {id}"),
            amount: id * 37 % 1000,
            tags: (0..3).map(|t| format!("tag-{}", (id + t) % 11)).collect(),
        })
        .collect();
    let json = serde_json::to_string(&records).unwrap();
    let process_calls = 1 + 2 * count; // process, and normalise + score per record
    // orion also traces score's closure, once per tag; `tracing::instrument` does not.
    let orion_calls = process_calls + 3 * count;

    let log = std::env::temp_dir().join(format!("orion-bench-tracing-{}.json", std::process::id()));
    let file = std::fs::File::create(&log).unwrap();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(std::sync::Mutex::new(std::io::BufWriter::new(file)))
        .finish();

    if let Some(profiled) = std::env::var_os("ORION_BENCH_PROFILE") {
        // For a profiler: one traced workload alone, many times.
        for _ in 0..500 {
            if profiled == "json" {
                std::hint::black_box(traced::process(&json));
            } else {
                std::hint::black_box(traced::fib(std::hint::black_box(n)));
            }
        }
        return;
    }
    let (fib_plain, fib_orion) = time_pair(
        &|| {
            std::hint::black_box(plain::fib(std::hint::black_box(n)));
        },
        &|| {
            std::hint::black_box(traced::fib(std::hint::black_box(n)));
        },
    );
    // The flushing thread's compression counted too (it waits up to 50 ms: a long run).
    let fib_orion_process = time_on(PROCESS_CPU, &|| {
        for _ in 0..20 {
            std::hint::black_box(traced::fib(std::hint::black_box(n)));
        }
    }) / 20.0;
    let fib_tracing = tracing::subscriber::with_default(subscriber, || {
        time(&|| {
            std::hint::black_box(spans::fib(std::hint::black_box(n)));
        })
    });
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(std::sync::Mutex::new(std::io::BufWriter::new(
            std::fs::OpenOptions::new().append(true).open(&log).unwrap(),
        )))
        .finish();
    let (json_plain, json_orion) = time_pair(
        &|| {
            std::hint::black_box(plain::process(&json));
        },
        &|| {
            std::hint::black_box(traced::process(&json));
        },
    );
    let json_tracing = tracing::subscriber::with_default(subscriber, || {
        time(&|| {
            std::hint::black_box(spans::process(&json));
        })
    });
    let _ = std::fs::remove_file(&log);
    let per_call = |traced: f64, plain: f64, calls: u64| (traced - plain) / calls as f64 * 1e9;
    println!(
        "mode {}: fib({n}) {fib_calls} calls: plain {:.2} ms, orion {:.2} ms ({:.0} ns/call; process CPU {:.0} ns/call), tracing {:.2} ms ({:.0} ns/span)",
        std::env::var("ORION_MODE").unwrap_or_else(|_| "dev".into()),
        fib_plain * 1e3,
        fib_orion * 1e3,
        per_call(fib_orion, fib_plain, fib_calls),
        per_call(fib_orion_process, fib_plain, fib_calls),
        fib_tracing * 1e3,
        per_call(fib_tracing, fib_plain, fib_calls),
    );
    println!(
        "serde_json {count} records ({orion_calls} calls, {process_calls} spans): plain {:.2} ms, orion {:.2} ms ({:.2}x, {:.0} ns/call), tracing {:.2} ms ({:.2}x, {:.0} ns/span)",
        json_plain * 1e3,
        json_orion * 1e3,
        json_orion / json_plain,
        per_call(json_orion, json_plain, orion_calls),
        json_tracing * 1e3,
        json_tracing / json_plain,
        per_call(json_tracing, json_plain, process_calls),
    );
    orion::finish();
}
