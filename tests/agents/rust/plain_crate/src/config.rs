/// Reads a level: a panic several calls deep when it is not a number.
pub fn configure(text: &str) -> u32 {
    let level = parse_level(text);
    level + 1
}

fn parse_level(text: &str) -> u32 {
    text.trim().parse().expect("level is not a number")
}
