//! The keyed limiter end to end: every key behaves exactly like its own direct
//! limiter; memory never grows; full groups evict or deny as configured; threads
//! lose no update.

#![cfg(not(loom))]

use proptest::prelude::*;
use ratecell::{Algorithm, DirectLimiter, FullPolicy, Limiter, ManualClock, Quota};
use std::sync::{Arc, Barrier};
use std::time::Duration;

const ALGORITHMS: [Algorithm; 5] = [
    Algorithm::TokenBucket,
    Algorithm::LeakyBucket,
    Algorithm::FixedWindow,
    Algorithm::SlidingWindowCounter,
    Algorithm::SlidingWindowLog,
];

fn keyed(q: Quota, alg: Algorithm, capacity: usize, clock: &ManualClock) -> Limiter<ManualClock> {
    Limiter::builder(q)
        .algorithm(alg)
        .capacity(capacity)
        .clock(clock.clone())
        .build()
        .unwrap()
}

#[derive(Clone, Debug)]
enum Op {
    Advance(u64),
    Check(u8, u32),
    Peek(u8),
    Reset(u8),
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Each key of a keyed limiter decides exactly as a direct limiter of the same
    /// quota would on that key's requests alone (the direct limiter is itself held
    /// to the reference models in tests/reference_models.rs).
    #[test]
    fn every_key_matches_its_own_direct_limiter(
        alg in proptest::sample::select(ALGORITHMS.to_vec()),
        limit in 1u32..8,
        ops in proptest::collection::vec(prop_oneof![
            3 => (0u64..3_000).prop_map(Op::Advance),
            8 => (0u8..12, 1u32..9).prop_map(|(k, n)| Op::Check(k, n)),
            2 => (0u8..12).prop_map(Op::Peek),
            1 => (0u8..12).prop_map(Op::Reset),
        ], 1..300),
    ) {
        let q = Quota::new(limit, Duration::from_nanos(1_000)).unwrap();
        let clock = ManualClock::new();
        let lim = keyed(q, alg, 64, &clock);
        let models: Vec<DirectLimiter<ManualClock>> = (0..12)
            .map(|_| DirectLimiter::builder(q).algorithm(alg).clock(clock.clone()).build().unwrap())
            .collect();
        for op in ops {
            match op {
                Op::Advance(d) => clock.advance(Duration::from_nanos(d)),
                Op::Check(k, n) => {
                    let key = format!("user:{k}");
                    match (lim.check_n(key.as_str(), n), models[k as usize].check_n(n)) {
                        (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
                        (Err(a), Err(b)) => prop_assert_eq!(a, b),
                        (a, b) => prop_assert!(false, "{:?} vs {:?}", a, b),
                    }
                }
                Op::Peek(k) => prop_assert_eq!(lim.peek(&format!("user:{k}")), models[k as usize].peek()),
                Op::Reset(k) => {
                    lim.reset(&format!("user:{k}"));
                    models[k as usize].reset();
                }
            }
        }
        prop_assert_eq!(lim.stats().evicted, 0);
    }
}

#[test]
fn keys_of_any_hashable_type() {
    let clock = ManualClock::new();
    let lim = keyed(
        Quota::per_minute(1).unwrap(),
        Algorithm::TokenBucket,
        100,
        &clock,
    );
    let ip: std::net::IpAddr = "192.0.2.7".parse().unwrap();
    assert!(lim.check(&ip).is_allowed());
    assert!(!lim.check(&ip).is_allowed());
    assert!(lim.check(&42u64).is_allowed());
    assert!(lim.check(&("tenant", 7u32)).is_allowed());
    assert!(lim.check(b"raw bytes".as_slice()).is_allowed());
    assert!(lim.check("str key").is_allowed());
    assert!(
        !lim.check(&String::from("str key")).is_allowed(),
        "String and str hash alike"
    );
}

/// `capacity(n)` holds `n` live keys without evicting any, with room to spare:
/// 6% more keys than the capacity, under three seeds, all stay. (Measured with
/// more trials: no eviction in 20 fills of 1M keys into `capacity(1_000_000)`,
/// nor in 6 fills each at 104% and 106%; the first appear at 108%. The earlier
/// placement, both candidate groups anywhere in the table, evicted a key in 3 of
/// 30 fills at exactly 1M, and fails this test.)
#[test]
fn capacity_holds_its_keys_without_eviction() {
    let clock = ManualClock::new();
    let capacity = 100_000;
    for seeds in [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]] {
        let lim = Limiter::builder(Quota::per_minute(1).unwrap())
            .capacity(capacity)
            .hash_seeds(seeds)
            .clock(clock.clone())
            .build()
            .unwrap();
        let keys = capacity as u64 * 106 / 100;
        for k in 0..keys {
            assert!(lim.check(&k).is_allowed());
        }
        assert_eq!(lim.stats().evicted, 0, "seeds {seeds:?}");
        // Every key is remembered: its second request is denied.
        for k in 0..keys {
            assert!(
                !lim.check(&k).is_allowed(),
                "key {k} forgotten, seeds {seeds:?}"
            );
        }
        assert_eq!(lim.len(), keys as usize);
    }
}

/// The measurement behind the figures in the table's docs and the README, at
/// full size (slow in a debug build, so run it by hand:
/// `cargo test --release --test keyed -- --ignored capacity_holds_at_1m`): 20
/// fills of exactly 1M keys into `capacity(1_000_000)` and 6 fills each of 104%
/// and 106%, under different seeds, evict nothing.
#[test]
#[ignore]
fn capacity_holds_at_1m() {
    let clock = ManualClock::new();
    let capacity = 1_000_000;
    for (fills, percent) in [(20, 100), (6, 104), (6, 106)] {
        for seed in 0..fills {
            let lim = Limiter::builder(Quota::per_minute(1).unwrap())
                .capacity(capacity)
                .hash_seeds([seed, 2, 3, 4])
                .clock(clock.clone())
                .build()
                .unwrap();
            for k in 0..capacity as u64 * percent / 100 {
                let _ = lim.check(&k);
            }
            assert_eq!(lim.stats().evicted, 0, "{percent}%, seed {seed}");
        }
    }
}

#[test]
fn full_groups_evict_the_soonest_expiring_key() {
    let clock = ManualClock::new();
    // 1/s, burst 3: a key's state expires 1 s per request it made.
    let q = Quota::per_second(1).unwrap().with_burst(3).unwrap();
    let lim = keyed(q, Algorithm::TokenBucket, 1, &clock);
    // The smallest table; long-lived keys: 3 requests each (expire at 3 s).
    let slots = 1024 * 8; // the smallest table
    for i in 0..slots as u64 {
        for _ in 0..3 {
            let _ = lim.check(&i);
        }
    }
    let evicted_before = lim.stats().evicted;
    // A newcomer finds its groups full of keys expiring at 3 s, except the ones
    // we refresh to 1 s below... all equal here, so any may go; count it.
    assert!(lim.check(&u64::MAX).is_allowed());
    let evicted = lim.stats().evicted - evicted_before;
    assert!(evicted <= 1);
    // Keys still in the table keep their state: at most one was displaced.
    let still_denied = (0..slots as u64)
        .filter(|i| !lim.peek(i).is_allowed())
        .count();
    assert!(still_denied as u64 >= slots as u64 - lim.stats().evicted);
}

#[test]
fn deny_policy_never_displaces_a_live_key() {
    let clock = ManualClock::new();
    let q = Quota::per_minute(1).unwrap();
    let lim = Limiter::builder(q)
        .capacity(1)
        .full_policy(FullPolicy::Deny)
        .clock(clock.clone())
        .build()
        .unwrap();
    let slots = 1024 * 8; // the smallest table
    let mut admitted = Vec::new();
    let mut refused = 0;
    for i in 0..(slots as u64 * 2) {
        let d = lim.check(&i);
        if d.is_allowed() {
            admitted.push(i);
        } else {
            refused += 1;
            // Room frees up when the soonest state expires: one emission interval.
            assert!(d.retry_after().unwrap() <= Duration::from_secs(60));
        }
    }
    assert_eq!(lim.stats().evicted, 0);
    assert_eq!(admitted.len() + refused, slots * 2);
    assert!(admitted.len() <= slots);
    // Every admitted key is still remembered (denied on its second request).
    for i in &admitted {
        assert!(!lim.check(i).is_allowed(), "key {i} was forgotten");
    }
    // Once states expire, newcomers get room again.
    clock.advance(Duration::from_secs(60));
    assert!(lim.check(&u64::MAX).is_allowed());
}

#[test]
fn purge_and_len_follow_expiry() {
    let clock = ManualClock::new();
    let lim = keyed(
        Quota::per_second(1).unwrap(),
        Algorithm::TokenBucket,
        1_000,
        &clock,
    );
    for i in 0..100u32 {
        let _ = lim.check(&i);
    }
    assert_eq!(lim.len(), 100);
    clock.advance(Duration::from_millis(999));
    assert_eq!(lim.len(), 100);
    clock.advance(Duration::from_millis(1));
    assert_eq!(lim.len(), 0);
    assert!(lim.is_empty());
    assert_eq!(lim.purge_expired(), 100);
    assert_eq!(lim.purge_expired(), 0);
    let _ = lim.check(&1u32);
    lim.reset(&1u32);
    assert_eq!(lim.len(), 0);
}

#[test]
fn configuration_errors_are_typed() {
    use ratecell::BuildError;
    let q = Quota::per_second(1).unwrap();
    assert_eq!(
        Limiter::builder(q).capacity(0).build().err(),
        Some(BuildError::ZeroCapacity)
    );
    assert!(matches!(
        Limiter::builder(q).capacity(usize::MAX).build().err(),
        Some(BuildError::CapacityTooLarge(_))
    ));
    assert!(matches!(
        Limiter::builder(q.with_burst(2).unwrap())
            .algorithm(Algorithm::FixedWindow)
            .build()
            .err(),
        Some(BuildError::BurstOnWindowAlgorithm(Algorithm::FixedWindow))
    ));
    let lim = Limiter::builder(q).build().unwrap();
    assert_eq!(lim.check_n("k", 2).unwrap_err().max, 1);
}

/// 4 threads on one hot key and on 300 fresh keys, clock frozen: exactly the quota
/// per key is admitted, round after round (each round a new clock reading).
#[test]
fn threads_admit_exactly_the_quota_per_key() {
    for alg in ALGORITHMS {
        let clock = ManualClock::new();
        let limit = 7u32;
        let lim = Arc::new(keyed(
            Quota::per_second(limit).unwrap(),
            alg,
            10_000,
            &clock,
        ));
        for round in 0..20u64 {
            clock.set(Duration::from_secs(10 * round + 10));
            let barrier = Arc::new(Barrier::new(4));
            let handles: Vec<_> = (0..4)
                .map(|t| {
                    let (lim, barrier) = (lim.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        let mut hot = 0u32;
                        let mut fresh = vec![0u32; 300];
                        for i in 0..20 {
                            for j in 0..300 {
                                // Threads walk the fresh keys in different orders.
                                let k = (j + t * 75 + i) % 300;
                                if lim.check(&(round, k as u32)).is_allowed() {
                                    fresh[k] += 1;
                                }
                            }
                            if lim.check("hot").is_allowed() {
                                hot += 1;
                            }
                        }
                        (hot, fresh)
                    })
                })
                .collect();
            let mut hot = 0;
            let mut fresh = vec![0u32; 300];
            for h in handles {
                let (hh, ff) = h.join().unwrap();
                hot += hh;
                for (a, b) in fresh.iter_mut().zip(ff) {
                    *a += b;
                }
            }
            assert_eq!(hot, limit, "{alg:?} round {round}: hot key");
            assert!(
                fresh.iter().all(|&n| n == limit),
                "{alg:?} round {round}: {fresh:?}"
            );
        }
        assert_eq!(lim.stats().evicted, 0);
    }
}

/// The keyed sliding-window log: each key decides exactly as its own direct log.
#[test]
fn sliding_log_keys_match_their_direct_logs() {
    let q = Quota::new(4, Duration::from_nanos(1_000)).unwrap();
    let clock = ManualClock::new();
    let lim = keyed(q, Algorithm::SlidingWindowLog, 50, &clock);
    let models: Vec<DirectLimiter<ManualClock>> = (0..10)
        .map(|_| {
            DirectLimiter::builder(q)
                .algorithm(Algorithm::SlidingWindowLog)
                .clock(clock.clone())
                .build()
                .unwrap()
        })
        .collect();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for step in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let k = (x % 10) as usize;
        match (x >> 8) % 10 {
            0..=2 => clock.advance(Duration::from_nanos((x >> 16) % 400)),
            3 => assert_eq!(lim.peek(&k), models[k].peek(), "peek {k} at step {step}"),
            4 if (x >> 20) % 8 == 0 => {
                lim.reset(&k);
                models[k].reset();
            }
            _ => {
                let n = 1 + ((x >> 24) % 5) as u32;
                let (a, b) = (lim.check_n(&k, n), models[k].check_n(n));
                assert_eq!(a, b, "check_n({k}, {n}) at step {step}");
            }
        }
    }
    assert_eq!(lim.stats().evicted, 0);
    assert!(
        lim.memory_bytes() > 1024 * 8 * (16 + 16 + 4 * 8),
        "the logs are allocated at build"
    );
}

/// Counts stay exact with more threads than owned shards (the first 64 threads
/// count without a locked instruction, later ones share a shard).
#[test]
fn stats_are_exact_across_many_threads() {
    let clock = ManualClock::new();
    let lim = Arc::new(keyed(
        Quota::per_second(1_000).unwrap(),
        Algorithm::TokenBucket,
        100_000,
        &clock,
    ));
    let handles: Vec<_> = (0..80u32)
        .map(|t| {
            let lim = lim.clone();
            std::thread::spawn(move || {
                for i in 0..1_100u32 {
                    let _ = lim.check(&(t, i % 2));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    // Each thread checks its two keys 550 times each, within the burst of 1,000.
    let s = lim.stats();
    assert_eq!((s.admitted, s.denied), (80 * 1_100, 0));
}

/// A keyed log allocates one log per room at build: a build whose logs would pass
/// the memory limit is refused, stating the bytes, instead of taking gigabytes.
#[test]
fn keyed_logs_over_the_memory_limit_are_refused_with_the_bytes() {
    use ratecell::{BuildError, DEFAULT_LOG_MEMORY};
    let refused = Limiter::builder("1000/minute".parse().unwrap())
        .algorithm(Algorithm::SlidingWindowLog)
        .build()
        .unwrap_err();
    let BuildError::LogsTooLarge { needed, limit } = refused else {
        panic!("{refused:?}");
    };
    assert_eq!(limit, DEFAULT_LOG_MEMORY);
    // One log of 16 + 8 × 1000 bytes per room, and at least one room per key.
    assert!(needed >= (16 + 8 * 1000) * ratecell::DEFAULT_CAPACITY as u64);
    assert!(refused.to_string().contains(&needed.to_string()));
    // Within a raised limit the same build succeeds and says what it took.
    let lim = Limiter::builder("1000/minute".parse().unwrap())
        .algorithm(Algorithm::SlidingWindowLog)
        .capacity(100)
        .log_memory_limit(needed)
        .build()
        .unwrap();
    assert!(lim.memory_bytes() as u64 >= (16 + 8 * 1000) * 100);
    // Word algorithms have no logs: the limit does not apply.
    Limiter::builder("1000/minute".parse().unwrap())
        .log_memory_limit(0)
        .build()
        .unwrap();
}
