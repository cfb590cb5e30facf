//! A crate that knows nothing of Orionis: `orion run` and `orion test` trace it as it is.

pub mod config;

/// A login check with a secret argument and a secret local.
pub fn login(user: &str, password: &str) -> bool {
    let session_token = format!("{user}:{password}");
    session_token.len() > 8
}

pub fn fib(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    fib(n - 1) + fib(n - 2)
}

/// Sums the even squares up to `limit`: an iterator chain of closures.
pub fn even_squares(limit: u32) -> u32 {
    (1..=limit).map(|n| n * n).filter(|square| square % 2 == 0).sum()
}

/// Functions that a macro writes.
macro_rules! scaled {
    ($($name:ident => $factor:expr),*) => {
        $(pub fn $name(value: u32) -> u32 { value * $factor })*
    };
}

scaled!(double => 2, triple => 3);

pub struct Counter {
    pub count: u32,
}

impl Counter {
    pub fn bump(&mut self, by: u32) -> u32 {
        self.count += by;
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fib_of_ten() {
        assert_eq!(fib(10), 55);
    }

    #[test]
    fn fib_is_wrong() {
        assert_eq!(fib(6), 9, "fib(6) should be 9");
    }

    #[test]
    fn macro_written_and_closures() {
        assert_eq!(double(triple(2)), 12);
        assert_eq!(even_squares(4), 20);
    }

    /// Tests that a macro writes: a failing one gets its trace like any other test.
    macro_rules! doubling_cases {
        ($($name:ident: $input:expr => $expected:expr),*) => {
            $(#[test] fn $name() { assert_eq!(double($input), $expected); })*
        };
    }

    doubling_cases!(doubles_two: 2 => 4, doubles_three: 3 => 7);

    #[test]
    fn level_parses() {
        assert_eq!(config::configure("2"), 3);
    }

    #[test]
    fn level_named_high() {
        assert_eq!(config::configure("high"), 4);
    }

    #[test]
    #[should_panic(expected = "not a number")]
    fn bad_level_panics() {
        config::configure("x");
    }
}
