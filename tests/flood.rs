//! A flood of distinct keys cannot grow a keyed limiter's memory. Alone in its
//! own test binary, so that no other test's threads move the process's RSS while
//! it measures.

#![cfg(not(loom))]

use ratecell::{Algorithm, Limiter, ManualClock, Quota};

fn keyed(q: Quota, alg: Algorithm, capacity: usize, clock: &ManualClock) -> Limiter<ManualClock> {
    Limiter::builder(q)
        .algorithm(alg)
        .capacity(capacity)
        .clock(clock.clone())
        .build()
        .unwrap()
}

/// Resident set size in bytes (Linux), `None` elsewhere.
fn rss() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[test]
fn memory_is_fixed_at_build_and_a_flood_cannot_grow_it() {
    let clock = ManualClock::new();
    let lim = keyed(
        Quota::per_second(5).unwrap(),
        Algorithm::TokenBucket,
        65_536,
        &clock,
    );
    let before = lim.memory_bytes();
    assert!(
        before < 65_536 * 24 + 8_192,
        "{before} bytes for 65,536 keys"
    );
    // Touch the whole table once, so that what the flood could add is measured.
    for i in 0..65_536u64 {
        let _ = lim.check(&i);
    }
    let rss_before = rss();
    for i in 0..3_000_000u64 {
        let _ = lim.check(&i);
    }
    match (rss_before, rss()) {
        (Some(a), Some(b)) => {
            // 1 MiB of slack for the allocator's own bookkeeping: far below the 24+
            // MB a table that grew with the flood would take.
            assert!(b.saturating_sub(a) < 1 << 20, "RSS grew by {} bytes", b - a);
        }
        _ => eprintln!("no /proc/self/statm here: the RSS check was skipped"),
    }
    assert_eq!(lim.memory_bytes(), before);
    // The table still works: a fresh key gets its full quota, a hot one is limited.
    for _ in 0..5 {
        assert!(lim.check("after-flood").is_allowed());
    }
    assert!(!lim.check("after-flood").is_allowed());
    let s = lim.stats();
    // Every check of the flood is a key's first or second in its second: all
    // admitted, as are the five of "after-flood".
    assert_eq!(s.admitted, 65_536 + 3_000_000 + 5);
    assert_eq!(s.denied, 1);
    assert!(s.evicted >= 3_000_000 - 65_536 * 3 / 2, "{s:?}");
}
