//! Per-key quotas: tiers sharing one keyed limiter's table, with the exactness
//! of a plain check, sequentially and under contention.

#![cfg(not(loom))]

mod common;

use common::*;
use ratecell::{BuildError, TierError};
use std::sync::atomic::{AtomicU64, Ordering};

const WORD_ALGORITHMS: [Algorithm; 4] = [
    Algorithm::TokenBucket,
    Algorithm::LeakyBucket,
    Algorithm::FixedWindow,
    Algorithm::SlidingWindowCounter,
];

fn per_min(n: u32) -> Quota {
    Quota::per_minute(n).unwrap()
}

#[test]
fn two_tiers_share_one_table_each_with_its_own_quota() {
    for a in WORD_ALGORITHMS {
        let clock = ManualClock::new();
        clock.set(T0);
        let lim = keyed(per_min(3), a, 1_000, &clock, None);
        let free = lim.tier(per_min(2)).unwrap();
        let paid = lim.tier(per_min(5)).unwrap();
        assert_eq!((free.quota(), paid.quota()), (per_min(2), per_min(5)));
        let run = |tier, key: &str| {
            (0..10)
                .filter(|_| lim.check_with(tier, key).unwrap().is_allowed())
                .count()
        };
        assert_eq!(run(&free, "alice"), 2, "{a:?}");
        assert_eq!(run(&paid, "bob"), 5, "{a:?}");
        // The limiter's own quota for everyone else.
        assert_eq!(
            (0..10).filter(|_| lim.check("carol").is_allowed()).count(),
            3
        );
        // A key that moves to the paid plan keeps what it used: a window's count
        // of 2 leaves 3 of 5; a bucket's time debt of two free requests (60 s)
        // is the paid bucket's whole capacity (5 × 12 s), so none.
        let moved = if matches!(a, Algorithm::TokenBucket | Algorithm::LeakyBucket) {
            0
        } else {
            3
        };
        assert_eq!(run(&paid, "alice"), moved, "{a:?}");
        // Decisions carry the tier's numbers.
        let d = lim.peek_with(&paid, "dave").unwrap();
        assert_eq!((d.is_allowed(), d.limit(), d.remaining()), (true, 5, 4));
        assert_eq!(
            lim.check_n_with(&free, "erin", 3),
            Err(TierError::Cost(ratecell::InsufficientCapacity {
                requested: 3,
                max: 2
            }))
        );
        assert!(lim.check_n_with(&paid, "erin", 5).unwrap().is_allowed());
        assert!(!lim.peek_n_with(&paid, "erin", 1).unwrap().is_allowed());
        // set_quota changes the limiter's quota, not its tiers'.
        lim.set_quota(per_min(1)).unwrap();
        assert_eq!(run(&paid, "frank"), 5, "{a:?}");
        assert_eq!(lim.stats().admitted, 2 + 5 + 3 + moved as u64 + 1 + 5);
    }
}

#[test]
fn tiers_are_refused_what_the_limiter_cannot_hold_and_by_other_limiters() {
    let clock = ManualClock::new();
    let lim = keyed(per_min(3), Algorithm::FixedWindow, 100, &clock, None);
    assert_eq!(
        lim.tier(Quota::per_second(3).unwrap()),
        Err(BuildError::PeriodChangeOnWindow(Algorithm::FixedWindow))
    );
    assert_eq!(
        lim.tier(per_min(3).with_burst(4).unwrap()),
        Err(BuildError::BurstOnWindowAlgorithm(Algorithm::FixedWindow))
    );
    let log = keyed(per_min(3), Algorithm::SlidingWindowLog, 100, &clock, None);
    assert_eq!(
        log.tier(per_min(2)),
        Err(BuildError::TierUnsupported(Algorithm::SlidingWindowLog))
    );
    // The same configuration, another limiter: its tiers are foreign here.
    let twin = keyed(per_min(3), Algorithm::FixedWindow, 100, &clock, None);
    let theirs = twin.tier(per_min(2)).unwrap();
    assert_eq!(lim.check_with(&theirs, "k"), Err(TierError::Foreign));
    assert_eq!(lim.peek_with(&theirs, "k"), Err(TierError::Foreign));
    assert_eq!(lim.check_n_with(&theirs, "k", 1), Err(TierError::Foreign));
    assert_eq!(lim.stats().admitted + lim.stats().denied, 0);
    // Buckets take any quota as a tier, bursts included.
    let bucket = keyed(per_min(3), Algorithm::TokenBucket, 100, &clock, None);
    let burst = bucket
        .tier(Quota::per_day(10).unwrap().with_burst(7).unwrap())
        .unwrap();
    assert_eq!(
        (0..10)
            .filter(|_| bucket.check_with(&burst, "k").unwrap().is_allowed())
            .count(),
        7
    );
}

/// Threads check keys of both tiers at once with the clock still: every key
/// admits exactly its tier's limit (burst), as a plain check does.
#[test]
fn tiers_are_exact_under_contention() {
    const THREADS: usize = 4;
    const KEYS: u64 = 32;
    for a in WORD_ALGORITHMS {
        for _round in 0..10 {
            let clock = ManualClock::new();
            clock.set(T0);
            let lim = Arc::new(keyed(per_min(1), a, 4_096, &clock, None));
            let tiers = Arc::new([lim.tier(per_min(3)).unwrap(), lim.tier(per_min(8)).unwrap()]);
            let admitted: Arc<Vec<AtomicU64>> =
                Arc::new((0..KEYS).map(|_| AtomicU64::new(0)).collect());
            let start = Arc::new(Barrier::new(THREADS));
            let threads: Vec<_> = (0..THREADS)
                .map(|t| {
                    let (lim, tiers, admitted, start) =
                        (lim.clone(), tiers.clone(), admitted.clone(), start.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        for round in 0..12 {
                            for i in 0..KEYS {
                                let k = (i + t as u64 + round) % KEYS;
                                let tier = &tiers[(k % 2) as usize];
                                let d = lim.check_with(tier, &k).unwrap();
                                admitted[k as usize]
                                    .fetch_add(u64::from(d.is_allowed()), Ordering::Relaxed);
                            }
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            for k in 0..KEYS {
                let want = if k % 2 == 0 { 3 } else { 8 };
                assert_eq!(
                    admitted[k as usize].load(Ordering::Relaxed),
                    want,
                    "{a:?} key {k}"
                );
            }
        }
    }
}
