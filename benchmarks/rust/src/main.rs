//! Per-call cost of `#[orion::trace]`, in one run against the same functions untraced and
//! against `#[tracing::instrument]` with tracing-subscriber's JSON layer (span close
//! events into a file): a call-dense workload (fib) and a realistic one (serde_json over a
//! few thousand records). Medians of 7 runs, in thread CPU time.
//!
//! Usage: ORION_MODE=dev|safe|error ORION_SPOOL=DIR orion-rust-bench [N] [RECORDS]
//! (`tracing` is measured in the same process; the mode applies to orion only).
//! ORION_BENCH_PROFILE=1 runs the traced fib alone, for `perf record`.

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

/// This thread's CPU time in seconds (Linux's CLOCK_THREAD_CPUTIME_ID): on a shared machine,
/// time spent waiting for a core does not count.
fn cpu_time() -> f64 {
    let mut time = Timespec { seconds: 0, nanoseconds: 0 };
    // SAFETY: clock_gettime writes one timespec into `time`.
    unsafe { clock_gettime(3, &mut time) };
    time.seconds as f64 + time.nanoseconds as f64 * 1e-9
}

fn time(f: &dyn Fn()) -> f64 {
    median(
        (0..7)
            .map(|_| {
                let t = cpu_time();
                f();
                cpu_time() - t
            })
            .collect(),
    )
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

    let log = std::env::temp_dir().join(format!("orion-bench-tracing-{}.json", std::process::id()));
    let file = std::fs::File::create(&log).unwrap();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(std::sync::Mutex::new(std::io::BufWriter::new(file)))
        .finish();

    if std::env::var_os("ORION_BENCH_PROFILE").is_some() {
        // For a profiler: the traced fib alone, many times.
        for _ in 0..50 {
            std::hint::black_box(traced::fib(std::hint::black_box(n)));
        }
        return;
    }
    let fib_plain = time(&|| {
        std::hint::black_box(plain::fib(std::hint::black_box(n)));
    });
    let fib_orion = time(&|| {
        std::hint::black_box(traced::fib(std::hint::black_box(n)));
    });
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
    let json_plain = time(&|| {
        std::hint::black_box(plain::process(&json));
    });
    let json_orion = time(&|| {
        std::hint::black_box(traced::process(&json));
    });
    let json_tracing = tracing::subscriber::with_default(subscriber, || {
        time(&|| {
            std::hint::black_box(spans::process(&json));
        })
    });
    let _ = std::fs::remove_file(&log);
    let per_call = |traced: f64, plain: f64, calls: u64| (traced - plain) / calls as f64 * 1e9;
    println!(
        "mode {}: fib({n}) {fib_calls} calls: plain {:.2} ms, orion {:.2} ms ({:.0} ns/call), tracing {:.2} ms ({:.0} ns/span)",
        std::env::var("ORION_MODE").unwrap_or_else(|_| "dev".into()),
        fib_plain * 1e3,
        fib_orion * 1e3,
        per_call(fib_orion, fib_plain, fib_calls),
        fib_tracing * 1e3,
        per_call(fib_tracing, fib_plain, fib_calls),
    );
    println!(
        "serde_json {count} records ({process_calls} calls): plain {:.2} ms, orion {:.2} ms ({:.2}x, {:.0} ns/call), tracing {:.2} ms ({:.2}x, {:.0} ns/span)",
        json_plain * 1e3,
        json_orion * 1e3,
        json_orion / json_plain,
        per_call(json_orion, json_plain, process_calls),
        json_tracing * 1e3,
        json_tracing / json_plain,
        per_call(json_tracing, json_plain, process_calls),
    );
    orion::finish();
}
