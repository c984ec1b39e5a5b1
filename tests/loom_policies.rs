#![cfg(loom)]
//! loom models of `set_quota` racing checks: the quota's slot ring
//! (`src/limiter/live.rs`), which has two slots under loom, so that two quota
//! changes during one check reuse the slot that check may be reading.
//!
//! Run (without `--cfg loom` this file is empty):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom \
//!     cargo test --release --test loom_policies
//! ```
//!
//! A torn read (words of two quotas mixed) shows in the decision: for a token
//! bucket on a fresh state, `limit` is the burst and `reset_after` one emission
//! interval, and the three quotas below differ in both.

use loom::thread;
use ratecell::{Algorithm, DirectLimiter, Limiter, ManualClock, Quota};
use std::collections::BTreeSet;
use std::sync::{Arc as StdArc, Mutex};

type Arc<T> = loom::sync::Arc<T>;
use std::time::Duration;

const START: Duration = Duration::from_secs(5);

fn quotas() -> [Quota; 3] {
    [
        Quota::per_second(1).unwrap(),
        Quota::per_second(2).unwrap(),
        Quota::per_second(4).unwrap(),
    ]
}

/// Which quota (index into `quotas`) a fresh-state decision was made under.
fn which(limit: u32, reset_after: Duration) -> usize {
    quotas()
        .iter()
        .position(|q| q.burst() == limit && q.emission_interval() == reset_after)
        .unwrap_or_else(|| panic!("a torn quota: limit {limit}, reset_after {reset_after:?}"))
}

#[test]
fn a_peek_racing_two_quota_changes_sees_one_whole_quota_in_order() {
    let seen = StdArc::new(Mutex::new(BTreeSet::new()));
    let all = seen.clone();
    loom::model(move || {
        let clock = ManualClock::new();
        clock.set(START);
        let lim = Arc::new(
            DirectLimiter::builder(quotas()[0])
                .clock(clock.clone())
                .build()
                .unwrap(),
        );
        // The writer first (see tests/loom_direct.rs on loom's DPOR).
        let writer = {
            let lim = lim.clone();
            thread::spawn(move || {
                lim.set_quota(quotas()[1]).unwrap();
                lim.set_quota(quotas()[2]).unwrap();
            })
        };
        let a = lim.peek();
        let b = lim.peek();
        let (i, j) = (
            which(a.limit(), a.reset_after()),
            which(b.limit(), b.reset_after()),
        );
        assert!(i <= j, "a later read saw an older quota: {i} then {j}");
        writer.join().unwrap();
        assert_eq!(lim.quota(), quotas()[2]);
        all.lock().unwrap().insert((i, j));
    });
    let seen = seen.lock().unwrap();
    // Every ordered pair is reachable; at least the extremes and a change between
    // the two reads must have been explored.
    for pair in [(0, 0), (0, 2), (2, 2)] {
        assert!(seen.contains(&pair), "never explored {pair:?}: {seen:?}");
    }
}

#[test]
fn a_keyed_check_racing_a_quota_change_admits_under_one_quota() {
    let seen = StdArc::new(Mutex::new(BTreeSet::new()));
    let all = seen.clone();
    loom::model(move || {
        let clock = ManualClock::new();
        clock.set(START);
        let lim = Arc::new(
            Limiter::builder(Quota::per_minute(1).unwrap())
                .algorithm(Algorithm::FixedWindow)
                .capacity(1)
                .clock(clock.clone())
                .build()
                .unwrap(),
        );
        let writer = {
            let lim = lim.clone();
            thread::spawn(move || lim.set_quota(Quota::per_minute(2).unwrap()).unwrap())
        };
        let first = lim.check(&1u8);
        let second = lim.check(&1u8);
        writer.join().unwrap();
        // The first check admits under either quota; the second only under 2.
        assert!(first.is_allowed());
        if second.is_allowed() {
            assert_eq!(second.limit(), 2);
        }
        // Under 2, exactly two admissions in all, whatever the interleaving.
        let third = lim.check(&1u8);
        assert_eq!(third.limit(), 2);
        assert_eq!(third.is_allowed(), !second.is_allowed());
        assert!(!lim.check(&1u8).is_allowed());
        all.lock()
            .unwrap()
            .insert((first.limit(), second.is_allowed()));
    });
    let seen = seen.lock().unwrap();
    for outcome in [(1, true), (1, false), (2, true)] {
        assert!(
            seen.contains(&outcome),
            "never explored {outcome:?}: {seen:?}"
        );
    }
}
