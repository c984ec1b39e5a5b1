//! Runs every algorithm through the same schedule of requests and prints what each
//! one decides, then the HTTP header fields of an allowed and a denied decision.
//!
//! `cargo run --release --example quickstart`
//!
//! Time comes from a `ManualClock`, so the output is the same on every run and every
//! machine: the numbers are the algorithms' exact answers, not measurements.

use ratecell::{Algorithm, Decision, DirectLimiter, ManualClock, Quota};
use std::time::Duration;

/// Request times in milliseconds: a burst of 7 at once (2 more than the quota),
/// then requests spaced out enough for some quota to come back.
const SCHEDULE_MS: [u64; 14] = [0, 0, 0, 0, 0, 0, 0, 100, 250, 400, 1000, 1050, 1500, 2500];

/// Each algorithm, with what to look for in its table.
const ALGORITHMS: [(Algorithm, &str); 5] = [
    (
        Algorithm::TokenBucket,
        "5 back to back, then one more every 200 ms",
    ),
    (
        Algorithm::LeakyBucket,
        "admits like the token bucket, but `delay` spaces admitted requests 200 ms apart",
    ),
    (
        Algorithm::FixedWindow,
        "5 per calendar second [k s, (k+1) s); the count restarts at 1000 ms",
    ),
    (
        Algorithm::SlidingWindowLog,
        "exactly 5 in any trailing second: a slot frees 1000 ms after its request",
    ),
    (
        Algorithm::SlidingWindowCounter,
        "the previous second's count, weighted by its overlap, still counts at 1000-1050 ms",
    ),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 5 per second: an emission interval of 200 ms for the buckets, a 1 s window
    // for the window algorithms.
    let quota: Quota = "5/second".parse()?;
    let mut allowed_example = None;
    let mut denied_example = None;

    println!("Times and durations in milliseconds.\n");
    for (algorithm, notice) in ALGORITHMS {
        // A fresh clock per algorithm so that every one starts from t = 0.
        let clock = ManualClock::new();
        let limiter = DirectLimiter::builder(quota)
            .algorithm(algorithm)
            .clock(clock.clone())
            .build()?;

        println!("{algorithm:?}, quota {quota}: {notice}");
        println!(
            "{:>7}  {:<7}  {:>9}  {:>11}  {:>11}  {:>8}",
            "t", "result", "remaining", "reset_after", "retry_after", "delay"
        );
        for t in SCHEDULE_MS {
            clock.set(Duration::from_millis(t));
            let d = limiter.check();
            print_row(t, &d);
            // Keep one of each kind to show their header fields at the end.
            if algorithm == Algorithm::TokenBucket {
                let slot = if d.is_allowed() {
                    &mut allowed_example
                } else {
                    &mut denied_example
                };
                slot.get_or_insert(d);
            }
        }
        println!();
    }

    for (what, d) in [("allowed", allowed_example), ("denied", denied_example)] {
        let d = d.ok_or("the schedule produced no such decision")?;
        println!("Header fields of the first {what} TokenBucket decision:");
        for (name, value) in d.headers() {
            println!("  {name}: {value}");
        }
        println!();
    }
    Ok(())
}

fn print_row(t: u64, d: &Decision) {
    println!(
        "{:>7}  {:<7}  {:>9}  {:>11}  {:>11}  {:>8}",
        t,
        if d.is_allowed() { "allowed" } else { "DENIED" },
        d.remaining(),
        ms(d.reset_after()),
        // Some iff denied: "-" keeps the allowed rows quiet.
        d.retry_after().map_or_else(|| "-".to_string(), ms),
        ms(d.delay()),
    );
}

/// Milliseconds; a fraction only when there is one (none in this schedule).
fn ms(d: Duration) -> String {
    if d.as_nanos() % 1_000_000 == 0 {
        d.as_millis().to_string()
    } else {
        format!("{:.6}", d.as_secs_f64() * 1e3)
    }
}
