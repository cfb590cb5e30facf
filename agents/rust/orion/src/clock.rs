//! The events' clock. Reading the monotonic clock costs 50–60 ns on a VM, more than the rest
//! of a call event; on x86-64, where the kernel itself keeps time with the TSC (its clock
//! source is `tsc`, so the counter is constant-rate and synchronised across cores), the
//! counter is read directly instead and turned into nanoseconds with a rate measured once,
//! over 2 ms, when the first trace opens.

use std::sync::OnceLock;
use std::time::Instant;

struct Calibration {
    origin: Instant,
    #[cfg(target_arch = "x86_64")]
    tsc: Option<(u64, u64)>, // the counter at `origin`, nanoseconds per tick in 32.32 fixed point
}

fn calibration() -> &'static Calibration {
    static CALIBRATION: OnceLock<Calibration> = OnceLock::new();
    CALIBRATION.get_or_init(|| {
        let origin = Instant::now();
        #[cfg(target_arch = "x86_64")]
        {
            let trusted = std::fs::read_to_string(
                "/sys/devices/system/clocksource/clocksource0/current_clocksource",
            )
            .is_ok_and(|s| s.trim() == "tsc");
            let tsc = trusted.then(|| {
                let start = tsc();
                let window = std::time::Duration::from_millis(2);
                while origin.elapsed() < window {
                    std::hint::spin_loop();
                }
                let (elapsed, end) = (origin.elapsed(), tsc());
                let ns_per_tick = elapsed.as_nanos() as f64 / (end - start).max(1) as f64;
                (start, (ns_per_tick * (1u64 << 32) as f64) as u64)
            });
            Calibration { origin, tsc }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Calibration { origin }
    })
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn tsc() -> u64 {
    // SAFETY: RDTSC has no preconditions on x86-64.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Nanoseconds since a fixed instant of this process.
#[inline]
pub fn now() -> u64 {
    let calibration = calibration();
    #[cfg(target_arch = "x86_64")]
    if let Some((start, ns_per_tick)) = calibration.tsc {
        // Integer arithmetic: converting through f64 cost as much as the rest of an event.
        return ((tsc().wrapping_sub(start) as u128 * ns_per_tick as u128) >> 32) as u64;
    }
    calibration.origin.elapsed().as_nanos() as u64
}

#[cfg(test)]
mod tests {
    #[test]
    fn follows_the_monotonic_clock() {
        let (ours, theirs) = (super::now(), std::time::Instant::now());
        std::thread::sleep(std::time::Duration::from_millis(50));
        let ns = super::now() - ours;
        let expected = theirs.elapsed().as_nanos() as u64;
        assert!(
            ns.abs_diff(expected) < expected / 20,
            "{ns} ns against {expected} ns"
        );
    }
}
