//! An application instrumented with `tracing` only: `orion::layer()` records its spans as
//! calls with their fields, and its events.

use tracing_subscriber::prelude::*;

#[tracing::instrument]
fn handle(user: &str, attempts: u32) -> bool {
    tracing::info!(user, "checking");
    check(attempts)
}

#[tracing::instrument(skip(password))]
fn login(user: &str, password: &str) -> bool {
    handle(user, password.len() as u32)
}

#[tracing::instrument]
fn check(attempts: u32) -> bool {
    attempts > 3
}

fn main() {
    tracing_subscriber::registry().with(orion::layer()).init();
    println!("login {}", login("ada", "hunter2"));
}
