//! What the benchmarks share besides the real parts: the smoke switch and the figures' arithmetic.

/// `BENCH_SMOKE=1`: small sizes, for the test script's check that a benchmark still runs.
pub fn smoke() -> bool {
    std::env::var("BENCH_SMOKE").is_ok_and(|v| v == "1")
}

/// The `p` quantile (0..=1, nearest rank) of `sorted` (ascending, not empty): durations or
/// milliseconds.
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> T {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A duration in milliseconds, for printing.
pub fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The line a backend benchmark starts with: the cores it runs on and the build it measures.
pub fn in_process_backend_line() -> String {
    format!(
        "machine: {} cores; PostgreSQL on loopback; backend in-process ({} build)",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    )
}
