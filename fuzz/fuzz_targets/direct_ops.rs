//! A byte stream decoded into a limiter (algorithm, quota) and a sequence of
//! operations on it, with the clock jumping anywhere on the timeline below 2^63 ns.
//!
//! Checked on every input: nothing panics or overflows; `check_n` refuses exactly
//! the costs above the limiter's maximum; `peek` answers what the `check` right after
//! it answers; a denied check changes nothing; `reset` gives the whole quota back;
//! and, with the state held still, moving the clock back never frees quota (nor does
//! moving it forward take any away).
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use ratecell::{
    Algorithm, Clock, Decision, DirectLimiter, InsufficientCapacity, ManualClock, Quota,
};
use std::time::Duration;

/// The algorithms guarantee exact, panic-free arithmetic for readings below this.
const END: u64 = 1 << 63;

const ALGORITHMS: [Algorithm; 5] = [
    Algorithm::TokenBucket,
    Algorithm::LeakyBucket,
    Algorithm::FixedWindow,
    Algorithm::SlidingWindowLog,
    Algorithm::SlidingWindowCounter,
];

fuzz_target!(|data: &[u8]| {
    // Running out of bytes just ends the sequence.
    let _ = run(&mut Unstructured::new(data));
});

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let algorithm = ALGORITHMS[usize::from(u.arbitrary::<u8>()?) % ALGORITHMS.len()];
    let Some(quota) = quota(u)? else {
        return Ok(());
    };
    let clock = ManualClock::new();
    let Ok(lim) = DirectLimiter::builder(quota)
        .algorithm(algorithm)
        .clock(clock.clone())
        .build()
    else {
        return Ok(());
    };
    let is_window = !matches!(algorithm, Algorithm::TokenBucket | Algorithm::LeakyBucket);
    let max = if is_window {
        quota.limit()
    } else {
        quota.burst()
    };
    let valid = |d: &Decision| {
        assert_eq!(d.limit(), max);
        assert!(d.remaining() <= max);
        assert_eq!(d.retry_after().is_some(), !d.is_allowed(), "{d:?}");
        if algorithm != Algorithm::LeakyBucket || !d.is_allowed() {
            assert_eq!(d.delay(), Duration::ZERO, "{d:?}");
        }
    };

    while !u.is_empty() {
        match u.arbitrary::<u8>()? % 6 {
            // Clock moves: anywhere, forward, back. Only the state stays still across
            // a move, so the answers before and after it must be ordered in time.
            op @ 0..=2 => {
                let now = clock.now();
                let x: u64 = u.arbitrary()?;
                let to = match op {
                    0 => x % END,
                    1 => now.saturating_add(x).min(END - 1),
                    _ => now.saturating_sub(x),
                };
                let before = lim.peek();
                clock.set_nanos(to);
                let after = lim.peek();
                valid(&after);
                let (earlier, later) = if to >= now {
                    (before, after)
                } else {
                    (after, before)
                };
                assert!(
                    earlier.remaining() <= later.remaining()
                        && (!earlier.is_allowed() || later.is_allowed()),
                    "time {now} -> {to} ns: {before:?} then {after:?}"
                );
            }
            3 => {
                // Mostly costs around the maximum, where the edge cases are.
                let n = if u.arbitrary::<bool>()? {
                    u.arbitrary::<u32>()?
                } else {
                    u.int_in_range(0..=max.saturating_add(1))?
                };
                let before = lim.peek();
                match lim.check_n(n) {
                    Ok(d) => {
                        assert!(n <= max, "cost {n} > max {max} admitted: {d:?}");
                        valid(&d);
                        if !d.is_allowed() {
                            assert_eq!(lim.peek(), before, "a denied check changed the state");
                        }
                    }
                    Err(e) => {
                        assert!(n > max, "cost {n} <= max {max} refused");
                        assert_eq!(e, InsufficientCapacity { requested: n, max });
                    }
                }
            }
            4 => {
                let peeked = lim.peek();
                let checked = lim.check();
                valid(&checked);
                assert_eq!(peeked, checked, "at {} ns", clock.now());
            }
            _ => {
                lim.reset();
                let d = lim.peek();
                assert!(d.is_allowed(), "after reset: {d:?}");
                assert_eq!(d.remaining(), max - 1, "after reset: {d:?}");
            }
        }
    }
    Ok(())
}

/// A quota, mostly small and valid; `None` when the bytes describe an invalid one.
fn quota(u: &mut Unstructured<'_>) -> Result<Option<Quota>> {
    let limit = match u.arbitrary::<u8>()? % 4 {
        0 => u.arbitrary::<u32>()?,
        1 => u.int_in_range(1..=1000)?,
        _ => u.int_in_range(1..=8)?,
    };
    const UNITS: [u64; 7] = [
        1,
        1_000,
        1_000_000,
        1_000_000_000,
        60_000_000_000,
        3_600_000_000_000,
        86_400_000_000_000,
    ];
    let period = match u.arbitrary::<u8>()? % 3 {
        0 => u.arbitrary::<u64>()?,
        _ => {
            let unit = UNITS[usize::from(u.arbitrary::<u8>()?) % UNITS.len()];
            unit * u.int_in_range(1..=1000)?
        }
    };
    let Ok(mut q) = Quota::new(limit, Duration::from_nanos(period)) else {
        return Ok(None);
    };
    if u.arbitrary::<u8>()? % 4 == 0 {
        let burst = match u.arbitrary::<bool>()? {
            true => u.arbitrary::<u32>()?,
            false => u.int_in_range(1..=16)?,
        };
        let Ok(b) = q.with_burst(burst) else {
            return Ok(None);
        };
        q = b;
    }
    Ok(Some(q))
}
