//! Parser throughput benchmarks (filled in with the Rails parser).
fn main() {}
