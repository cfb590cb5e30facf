//! `#[orion::trace]` on functions, an impl block, a trait and a module: nested calls, a
//! type without Debug, a secret argument, a thread, and (with `panic`) a panic several
//! calls deep; `threads` adds a thread that ends and one that waits, `busy` a burst of calls.

use std::fmt::Debug;

struct Opaque(u32); // no Debug: captured as its type name

#[derive(Debug)]
struct Account {
    owner: String,
}

#[orion::trace]
impl Account {
    fn new(owner: &str) -> Account {
        Account {
            owner: owner.to_string(),
        }
    }

    fn login(&self, password: &str) -> bool {
        !self.owner.is_empty() && password.len() > 3
    }

    fn wrap(&self, opaque: Opaque) -> Opaque {
        Opaque(opaque.0 + 1)
    }
}

#[orion::trace]
trait Describe: Debug {
    fn describe(&self) -> String {
        format!("{self:?}")
    }
}

impl Describe for Account {}

#[orion::trace]
fn fib(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    fib(n - 1) + fib(n - 2)
}

/// Sends fib(3) and waits for good.
#[orion::trace]
fn wait(ready: std::sync::mpsc::Sender<u64>) {
    let _ = ready.send(fib(3));
    loop {
        std::thread::park();
    }
}

#[orion::trace]
fn generic<T>(value: T) -> T {
    value
}

#[orion::trace]
fn evens(limit: u32) -> impl Iterator<Item = u32> {
    (0..limit).filter(|n| n % 2 == 0)
}

/// Closures: an iterator chain whose closures' types are inferred (calls without
/// arguments), a closure whose parameter names its type (its argument captured), a
/// closure inside a closure, and one coerced to a function pointer.
#[orion::trace]
fn closures(words: &[&str]) -> usize {
    let long = |word: &str| word.len() > 3;
    let lengths: Vec<usize> = words.iter().filter(|w| long(w)).map(|w| w.len()).collect();
    let nested = |n| (0..n).map(|i| i * 2).sum::<usize>();
    let plain: fn(usize) -> usize = |n| n + 1;
    plain(lengths.iter().sum::<usize>() + nested(2))
}

#[orion::trace]
mod config {
    pub fn configure(text: &str) -> u32 {
        parse_level(text)
    }

    fn parse_level(text: &str) -> u32 {
        text.parse().expect("level is not a number")
    }
}

fn main() {
    let worker = std::thread::Builder::new()
        .name("worker".into())
        .spawn(|| fib(4))
        .unwrap();
    println!("fib {}", fib(5));
    println!("worker {}", worker.join().unwrap());
    let account = Account::new("ada");
    println!("login {}", account.login("hunter2-very-secret"));
    println!("wrap {}", account.wrap(Opaque(1)).0);
    println!("describe {}", account.describe());
    println!("generic {}", generic(Opaque(7)).0);
    println!("evens {}", evens(7).count());
    println!("closures {}", closures(&["tree", "sky", "river"]));
    println!(
        "forms {:?} {}",
        forms::closure_forms(&[3, 1, 2]),
        forms::adder(1)(2)
    );
    if std::env::args().any(|a| a == "threads") {
        // For error mode's ring: a thread that ends before the panic, and one still inside
        // a call when it comes.
        std::thread::Builder::new()
            .name("finished".into())
            .spawn(|| fib(6))
            .unwrap()
            .join()
            .unwrap();
        let (ready, waiting) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("waiting".into())
            .spawn(move || wait(ready))
            .unwrap();
        println!("waiting {}", waiting.recv().unwrap());
    }
    if std::env::args().any(|a| a == "busy") {
        println!("fib {}", fib(24)); // more events than error mode's ring holds
    }
    if std::env::args().any(|a| a == "panic") {
        config::configure("high");
    }
}

/// Forms that must compile without warnings under the attribute (the closures' run).
#[allow(dead_code)]
mod forms {
    #[orion::trace]
    pub fn diverges(reason: &str) -> u32 {
        panic!("{reason}")
    }

    #[orion::trace]
    pub fn early(values: &[u32]) -> Result<u32, std::num::TryFromIntError> {
        let first = values.first().copied().unwrap_or(0);
        if first == 0 {
            return Ok(0);
        }
        let small: u8 = u8::try_from(first)?;
        Ok(small.into())
    }

    #[orion::trace]
    pub fn collected(limit: u32) -> Vec<u32> {
        (0..limit).collect()
    }

    #[orion::trace]
    pub fn boxed(text: String) -> Box<dyn std::fmt::Display> {
        Box::new(text)
    }

    #[orion::trace]
    pub fn borrowed(text: &str) -> &str {
        text.trim()
    }

    #[orion::trace]
    pub fn destructured((a, b): (u32, u32), mut c: u32) -> u32 {
        c += a + b;
        c
    }

    #[orion::trace]
    pub async fn not_traced(x: u32) -> u32 {
        x
    }

    #[orion::trace]
    pub const fn constant(x: u32) -> u32 {
        x
    }

    #[orion::trace]
    pub unsafe fn raw(p: *const u32) -> u32 {
        *p
    }

    #[orion::trace]
    pub fn closure_forms(values: &[u32]) -> Option<u32> {
        let first = || -> Option<u32> { Some(*values.first()?) }; // `?` returns from the closure
        let head = |v: &[u32]| v[0]; // a typed argument: captured
        let mut total = 0;
        values.iter().for_each(|v| total += v); // FnMut, borrowing mutably
        let adder = move |x| x + total; // its argument's type inferred from the call below
        let boxed: Box<dyn Fn(u32) -> u32> = Box::new(adder);
        let mut sorted = values.to_vec();
        sorted.sort_by_key(|&x| std::cmp::Reverse(x)); // a pattern parameter
        Some(twice(boxed(head(&sorted)), |n| n * 2) + first()?)
    }

    #[orion::trace]
    fn twice<F: Fn(u32) -> u32 + Copy>(value: u32, f: F) -> u32 {
        let g = f; // still Copy: the guard captures nothing
        f(g(value))
    }

    #[orion::trace]
    pub fn adder(n: u32) -> impl Fn(u32) -> u32 + Send + 'static {
        move |x| x + n
    }

    #[orion::trace]
    pub fn never() -> ! {
        std::process::exit(3)
    }
}
