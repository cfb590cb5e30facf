//! Crash signals (SIGSEGV from `unsafe` code, a stack overflow, SIGBUS, SIGILL, SIGFPE,
//! SIGABRT from `abort()` or `panic = "abort"`): a handler records the crash and the
//! crashing thread's stack of traced calls, ends the trace, and hands the signal to the
//! action that was there before it — Rust's own stack-overflow report, or the default —
//! so that stderr and the exit status are the program's own.
//!
//! Best effort, as every in-process crash reporter: the handler runs on the alternate
//! signal stack (Rust gives each thread one), waits at most 250 ms for the trace's lock,
//! and writes uncompressed frames; it allocates, so a crash inside the allocator may leave
//! only what was flushed before it.

use crate::writer::{record_signal, Signal};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

const SIGNALS: [(libc::c_int, &str); 5] = [
    (libc::SIGSEGV, "SIGSEGV"),
    (libc::SIGBUS, "SIGBUS"),
    (libc::SIGILL, "SIGILL"),
    (libc::SIGFPE, "SIGFPE"),
    (libc::SIGABRT, "SIGABRT"),
];
/// The alternate stack given to the installing thread when it has none.
const ALTERNATE_STACK: usize = 64 * 1024;

/// The actions in place before ours, by signal.
static PREVIOUS: OnceLock<Vec<(libc::c_int, libc::sigaction)>> = OnceLock::new();

/// Installs the handler for each crash signal (once, with the agent's other hooks).
pub fn install() {
    PREVIOUS.get_or_init(|| {
        ensure_alternate_stack();
        SIGNALS
            .iter()
            .filter_map(|&(number, _)| {
                // SAFETY: sigaction reads and writes plain structs; the handler is an
                // extern "C" function of the right signature for SA_SIGINFO.
                unsafe {
                    let mut ours: libc::sigaction = std::mem::zeroed();
                    ours.sa_sigaction = on_crash_signal as *const () as usize;
                    ours.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                    libc::sigemptyset(&mut ours.sa_mask);
                    let mut previous: libc::sigaction = std::mem::zeroed();
                    (libc::sigaction(number, &ours, &mut previous) == 0)
                        .then_some((number, previous))
                }
            })
            .collect()
    });
}

/// A stack overflow can only be handled on another stack: Rust's runtime gives its threads
/// one; a thread it did not start (a C host's) gets one here.
fn ensure_alternate_stack() {
    // SAFETY: sigaltstack with a null new stack only reads the current one; the memory given
    // is leaked on purpose, as the stack must outlive the thread's handlers.
    unsafe {
        let mut current: libc::stack_t = std::mem::zeroed();
        if libc::sigaltstack(std::ptr::null(), &mut current) != 0
            || current.ss_flags & libc::SS_DISABLE == 0
        {
            return;
        }
        let memory = Box::leak(vec![0u8; ALTERNATE_STACK].into_boxed_slice());
        let stack = libc::stack_t {
            ss_sp: memory.as_mut_ptr().cast(),
            ss_flags: 0,
            ss_size: ALTERNATE_STACK,
        };
        libc::sigaltstack(&stack, std::ptr::null_mut());
    }
}

/// The stack pointer where the signal came.
fn stack_pointer(context: *mut libc::c_void) -> Option<usize> {
    let context = context.cast::<libc::ucontext_t>();
    // SAFETY: an SA_SIGINFO handler's third argument is the interrupted ucontext_t.
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    return Some(unsafe { (*context).uc_mcontext.gregs[libc::REG_RSP as usize] } as usize);
    #[cfg(all(target_os = "linux", target_arch = "aarch64"))]
    return Some(unsafe { (*context).uc_mcontext.sp } as usize);
    #[allow(unreachable_code)]
    None
}

extern "C" fn on_crash_signal(
    number: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    static CRASHING: AtomicBool = AtomicBool::new(false);
    // SAFETY: the kernel hands the handler a valid siginfo_t.
    let (code, address) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
    // A fault (the kernel's, si_code > 0) of these has an address; a signal sent has none.
    let fault = code > 0 && number != libc::SIGABRT;
    let previous = PREVIOUS
        .get()
        .and_then(|actions| actions.iter().find(|(n, _)| *n == number));
    let handled_before = previous.is_some_and(|(_, action)| {
        action.sa_sigaction != libc::SIG_DFL && action.sa_sigaction != libc::SIG_IGN
    });
    if !CRASHING.swap(true, Ordering::SeqCst) {
        let name = SIGNALS
            .iter()
            .find(|(n, _)| *n == number)
            .map_or("signal", |(_, name)| name);
        // A fault within reach of the stack pointer ran off the stack: Rust's handler
        // (the one before ours) reports it and aborts.
        let stack_overflow = fault
            && matches!(number, libc::SIGSEGV | libc::SIGBUS)
            && stack_pointer(context).is_some_and(|sp| sp.abs_diff(address) < 1 << 20);
        let exit_code = if stack_overflow && handled_before {
            128 + libc::SIGABRT
        } else {
            128 + number
        };
        record_signal(Signal {
            number,
            name,
            address: fault.then_some(address),
            stack_overflow,
            exit_code,
        });
    }
    // SAFETY: restores the action that was in place, then, for a signal that was sent,
    // sends it again; a fault meets that action when its instruction runs again as the
    // handler returns, with its own address (which Rust's stack-overflow check reads).
    unsafe {
        match previous {
            Some((_, action)) if action.sa_sigaction != libc::SIG_IGN => {
                libc::sigaction(number, action, std::ptr::null_mut());
            }
            _ => {
                libc::signal(number, libc::SIG_DFL);
            }
        }
        if !fault {
            libc::raise(number);
        }
    }
}
