//! TokenBucket decides exactly as governor 0.10 does for
//! `Quota::with_period(T).allow_burst(B)` on the same timestamps, and reports the
//! same wait.

use governor::clock::{Clock as _, FakeRelativeClock};
use governor::{Quota as GQuota, RateLimiter};
use proptest::prelude::*;
use ratecell::{DirectLimiter, ManualClock, Quota};
use std::num::NonZeroU32;
use std::time::Duration;

fn compare(t: u64, burst: u32, steps: &[(u64, u32)]) {
    let gq = GQuota::with_period(Duration::from_nanos(t))
        .unwrap()
        .allow_burst(NonZeroU32::new(burst).unwrap());
    let gclock = FakeRelativeClock::default();
    let gov = RateLimiter::direct_with_clock(gq, gclock.clone());

    // The same emission interval: limit 1 per T, with the burst.
    let quota = Quota::new(1, Duration::from_nanos(t))
        .unwrap()
        .with_burst(burst)
        .unwrap();
    let clock = ManualClock::new();
    let ours = DirectLimiter::builder(quota)
        .clock(clock.clone())
        .build()
        .unwrap();

    for (i, &(advance, cost)) in steps.iter().enumerate() {
        gclock.advance(Duration::from_nanos(advance));
        clock.advance(Duration::from_nanos(advance));
        let theirs = gov.check_n(NonZeroU32::new(cost).unwrap());
        let mine = ours.check_n(cost);
        match (theirs, mine) {
            (Err(_), Err(_)) => {} // both: can never fit
            (Ok(Ok(())), Ok(d)) => assert!(d.is_allowed(), "step {i}: governor allowed"),
            (Ok(Err(not_until)), Ok(d)) => {
                assert!(!d.is_allowed(), "step {i}: governor denied");
                let wait = not_until.wait_time_from(gclock.now());
                assert_eq!(d.retry_after(), Some(wait), "step {i}: retry_after");
            }
            (theirs, mine) => panic!("step {i}: governor {theirs:?}, ratecell {mine:?}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn token_bucket_equals_governor(
        t in 1u64..5_000,
        burst in 1u32..20,
        steps in proptest::collection::vec((0u64..6_000, 1u32..24), 1..200),
    ) {
        compare(t, burst, &steps);
    }
}

#[test]
fn a_second_of_bursty_traffic_matches() {
    // 10/s with burst 5, requests every 37 ms with costs cycling 1..4.
    let steps: Vec<(u64, u32)> = (0..500).map(|i| (37_000_000, 1 + i % 4)).collect();
    compare(100_000_000, 5, &steps);
}
