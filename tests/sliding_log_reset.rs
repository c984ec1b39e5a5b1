//! A sliding-window log forgets everything on reset, also its newest time: a clock
//! set backwards afterwards is judged against the fresh quota only, and a key that
//! takes over another key's room inherits none of its history.

#![cfg(not(loom))]

use ratecell::{Algorithm, DirectLimiter, Limiter, ManualClock, Quota};
use std::time::Duration;

const S: u64 = 1_000_000_000;

fn one_per_ten_seconds() -> Quota {
    Quota::new(1, Duration::from_secs(10)).unwrap()
}

#[test]
fn direct_reset_forgets_the_newest_time() {
    let clock = ManualClock::new();
    let lim = DirectLimiter::builder(one_per_ten_seconds())
        .algorithm(Algorithm::SlidingWindowLog)
        .clock(clock.clone())
        .build()
        .unwrap();
    clock.set(Duration::from_secs(100));
    assert!(lim.check().is_allowed());
    clock.set(Duration::from_secs(50));
    lim.reset();
    let d = lim.check();
    assert!(d.is_allowed());
    assert_eq!(d.reset_after(), Duration::from_secs(10));
    clock.set(Duration::from_secs(61));
    let d = lim.check();
    assert!(
        d.is_allowed(),
        "denied with retry_after {:?}",
        d.retry_after()
    );
    assert_eq!(d.reset_after(), Duration::from_secs(10));
    // And the entry admitted at 61 s counts from 61 s.
    clock.set(Duration::from_nanos(61 * S + 1));
    assert_eq!(
        lim.check().retry_after(),
        Some(Duration::from_nanos(10 * S - 1))
    );
}

#[test]
fn keyed_reset_forgets_the_newest_time() {
    let clock = ManualClock::new();
    let lim = Limiter::builder(one_per_ten_seconds())
        .algorithm(Algorithm::SlidingWindowLog)
        .capacity(1_000)
        .clock(clock.clone())
        .build()
        .unwrap();
    clock.set(Duration::from_secs(100));
    assert!(lim.check("a").is_allowed());
    clock.set(Duration::from_secs(50));
    lim.reset("a");
    let d = lim.check("a");
    assert!(d.is_allowed());
    assert_eq!(d.reset_after(), Duration::from_secs(10));
    clock.set(Duration::from_secs(61));
    assert!(lim.check("a").is_allowed());
}

/// A new key that takes over another key's room (here by evicting it, every room
/// holding a log stamped 100 s) starts from an empty log.
#[test]
fn a_key_taking_over_a_room_inherits_no_history() {
    let clock = ManualClock::new();
    let lim = Limiter::builder(one_per_ten_seconds())
        .algorithm(Algorithm::SlidingWindowLog)
        .capacity(1)
        .clock(clock.clone())
        .build()
        .unwrap();
    clock.set(Duration::from_secs(100));
    // Old keys until the table holds no more: every room then has a live old key.
    let mut old = 0;
    loop {
        let before = lim.len();
        for _ in 0..1_000 {
            let _ = lim.check(&format!("old{old}"));
            old += 1;
        }
        if lim.len() == before {
            break;
        }
    }
    let rooms = 100;
    clock.set(Duration::from_secs(50));
    for i in 0..rooms {
        let k = format!("new{i}");
        let d = lim.check(&k);
        assert!(d.is_allowed(), "{k}");
        assert_eq!(d.reset_after(), Duration::from_secs(10), "{k}");
    }
    clock.set(Duration::from_secs(61));
    for i in 0..rooms {
        assert!(lim.check(&format!("new{i}")).is_allowed(), "new{i}");
    }
}
