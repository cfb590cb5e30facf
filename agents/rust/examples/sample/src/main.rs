//! A small program traced with the manual API: nested calls, a thread, a secret argument,
//! and (with an argument `panic`) a panic several calls deep.

fn fib(n: u64) -> u64 {
    let call = orion::call!(n);
    let result = if n < 2 { n } else { fib(n - 1) + fib(n - 2) };
    call.returns(result)
}

fn login(user: &str, password: &str) -> bool {
    let call = orion::call!(user, password);
    call.returns(user.len() + password.len() > 3)
}

fn parse_level(text: &str) -> u32 {
    let _call = orion::call!(text);
    text.parse().expect("level is not a number")
}

fn configure(text: &str) -> u32 {
    let call = orion::call!(text);
    let level = parse_level(text);
    call.returns(level)
}

fn main() {
    let worker = std::thread::Builder::new()
        .name("worker".into())
        .spawn(|| fib(5))
        .unwrap();
    println!("fib {}", fib(6));
    println!("worker {}", worker.join().unwrap());
    println!("login {}", login("ada", "hunter2-very-secret"));
    if std::env::args().any(|a| a == "panic") {
        configure("high");
    }
}
