//! Per-call cost of `orion::call!` on a call-dense workload: fib(N) traced against the same
//! function untraced, in one run. Usage: orion-rust-bench [N] (ORION_MODE=dev|safe).

use std::time::Instant;

fn fib_plain(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        fib_plain(n - 1) + fib_plain(n - 2)
    }
}

fn fib(n: u64) -> u64 {
    let call = orion::call!(n);
    call.returns(if n < 2 { n } else { fib(n - 1) + fib(n - 2) })
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[xs.len() / 2]
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(22);
    let calls = (0..n).fold((1u64, 1u64), |(a, b), _| (b, a + b)).0 * 2 - 1; // fib's call count
    let time = |f: &dyn Fn() -> u64| -> f64 {
        median(
            (0..5)
                .map(|_| {
                    let t = Instant::now();
                    std::hint::black_box(f());
                    t.elapsed().as_secs_f64()
                })
                .collect(),
        )
    };
    let plain = time(&|| fib_plain(std::hint::black_box(n)));
    let traced = time(&|| fib(std::hint::black_box(n)));
    println!(
        "fib({n}): {calls} calls; plain {:.1} ms, traced {:.1} ms, {:.0} ns per traced call",
        plain * 1e3,
        traced * 1e3,
        (traced - plain) / calls as f64 * 1e9
    );
}
