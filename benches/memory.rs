//! Memory benchmark (placeholder until written).
fn main() {}
