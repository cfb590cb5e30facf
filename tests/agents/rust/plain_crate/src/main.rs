use plain::{config, double, even_squares, fib, login, triple, Counter};

fn main() {
    let worker = std::thread::Builder::new()
        .name("worker".into())
        .spawn(|| fib(5))
        .unwrap();
    println!("fib {}", fib(6));
    println!("worker {}", worker.join().unwrap());
    println!("login {}", login("ada", "hunter2-very-secret"));
    let mut counter = Counter { count: 0 };
    println!("count {}", counter.bump(2));
    println!("scaled {} squares {}", double(triple(2)), even_squares(4));
    let level = std::env::args().nth(1).unwrap_or_else(|| "2".into());
    println!("level {}", config::configure(&level));
}
