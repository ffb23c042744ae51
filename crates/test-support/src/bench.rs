//! What the benchmarks share besides the real parts: the smoke switch.

/// `BENCH_SMOKE=1`: small sizes, for the test script's check that a benchmark still runs.
pub fn smoke() -> bool {
    std::env::var("BENCH_SMOKE").is_ok_and(|v| v == "1")
}
