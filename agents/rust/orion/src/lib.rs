//! The Orionis agent for Rust: records calls, returns, unwinds and panics of instrumented
//! functions into an `.otrace` file (spec/OTRACE.md) in the spool, with no dependencies.
//!
//! ```ignore
//! fn fib(n: u64) -> u64 {
//!     let call = orion::call!(n);
//!     call.returns(if n < 2 { n } else { fib(n - 1) + fib(n - 2) })
//! }
//! ```

mod clock;
mod config;
mod frame;
mod http;
#[cfg(feature = "tracing")]
mod layer;
mod msgpack;
mod output;
mod redact;
mod ring;
mod signals;
mod writer;

use std::fmt::Debug;

pub use http::{http_client, http_server, traceparent};
#[cfg(feature = "tracing")]
pub use layer::{layer, OrionLayer};
pub use orion_macros::trace;
pub use writer::finish;

/// A value as captured for the trace: its type name and its `Debug` text (or, for a type
/// without `Debug`, none).
#[doc(hidden)]
pub struct Captured {
    pub type_name: &'static str,
    pub text: Option<String>,
}

/// Autoref specialisation: `(&Wrap(&x)).capture()` takes `Debug` where the type has it
/// and the type's name where it has not, without a `Debug` bound on the user's types.
#[doc(hidden)]
pub mod __private {
    use super::Captured;
    use std::fmt::Debug;

    pub struct Wrap<'a, T: ?Sized>(pub &'a T);

    pub trait CaptureDebug {
        fn capture(&self) -> Captured;
    }
    impl<T: Debug + ?Sized> CaptureDebug for Wrap<'_, T> {
        fn capture(&self) -> Captured {
            Captured {
                type_name: std::any::type_name::<T>(),
                text: Some(format!("{:?}", self.0)),
            }
        }
    }

    pub trait CaptureName {
        fn capture(&self) -> Captured;
    }
    impl<T: ?Sized> CaptureName for &Wrap<'_, T> {
        fn capture(&self) -> Captured {
            Captured {
                type_name: std::any::type_name::<T>(),
                text: None,
            }
        }
    }

    pub use crate::writer::{enter, function_id, test_starts};
    pub use std::sync::atomic::AtomicU32;
}

/// Opens a call of the enclosing function, capturing the named arguments; the returned
/// guard records the return when dropped (an unwind when a panic passes through).
#[macro_export]
macro_rules! call {
    ($($arg:ident),* $(,)?) => {{
        #[allow(unused_imports)]
        use $crate::__private::{CaptureDebug as _, CaptureName as _};
        fn __orion_here() {}
        static FUNCTION: $crate::__private::AtomicU32 = $crate::__private::AtomicU32::new(u32::MAX);
        let function = $crate::__private::function_id(
            &FUNCTION, ::std::any::type_name_of_val(&__orion_here), file!(), line!());
        $crate::__private::enter(function, || vec![
            $((stringify!($arg), (&$crate::__private::Wrap(&$arg)).capture())),*
        ])
    }};
}

/// An open call; dropping it records its end.
#[must_use = "the call ends when this guard is dropped"]
pub struct Call {
    pub(crate) recording: bool,
    pub(crate) values: bool,
    pub(crate) returned: bool,
    /// Recorded in this thread's `error`-mode buffer: its end goes there too, with no
    /// second look at the mode or the test flag.
    pub(crate) buffered: bool,
}

impl Call {
    /// Records `value` as the call's return value and hands it back.
    pub fn returns<T: Debug>(mut self, value: T) -> T {
        if self.recording {
            writer::leave(
                self.buffered,
                Some(Captured {
                    type_name: std::any::type_name::<T>(),
                    text: Some(format!("{value:?}")),
                }),
            );
            self.returned = true;
        }
        value
    }
}

impl Call {
    /// Records the value `capture` gives as the call's return value (`#[orion::trace]`'s
    /// form: the capture is only made when values are recorded).
    #[doc(hidden)]
    pub fn returned(mut self, capture: impl FnOnce() -> Captured) {
        if self.recording {
            writer::leave(
                self.buffered,
                self.values.then(|| writer::capturing(capture)),
            );
            self.returned = true;
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if self.recording && !self.returned {
            if std::thread::panicking() {
                writer::unwind(self.buffered);
            } else {
                writer::leave(self.buffered, None);
            }
        }
    }
}
