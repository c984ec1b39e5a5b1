//! `peek_n(n)` answers exactly what `check_n(n)` would, and consumes nothing.

#![cfg(not(loom))]

use ratecell::{Algorithm, DirectLimiter, Limiter, ManualClock, Quota};
use std::time::Duration;

const ALGORITHMS: [Algorithm; 5] = [
    Algorithm::TokenBucket,
    Algorithm::LeakyBucket,
    Algorithm::FixedWindow,
    Algorithm::SlidingWindowLog,
    Algorithm::SlidingWindowCounter,
];

#[test]
fn direct_peek_n_agrees_with_check_n() {
    for alg in ALGORITHMS {
        let clock = ManualClock::new();
        let q = Quota::per_second(6).unwrap();
        let lim = DirectLimiter::builder(q)
            .algorithm(alg)
            .clock(clock.clone())
            .build()
            .unwrap();
        let twin = DirectLimiter::builder(q)
            .algorithm(alg)
            .clock(clock.clone())
            .build()
            .unwrap();
        clock.set(Duration::from_secs(10));
        for step in 0..40u32 {
            let n = step % 4;
            let peeked = lim.peek_n(n).unwrap();
            assert_eq!(
                lim.peek_n(n).unwrap(),
                peeked,
                "{alg:?}: peek changed state"
            );
            assert_eq!(twin.check_n(n).unwrap(), peeked, "{alg:?} step {step}");
            let _ = lim.check_n(n).unwrap();
            clock.advance(Duration::from_millis(70));
        }
        assert_eq!(lim.peek_n(7).unwrap_err().requested, 7);
    }
}

#[test]
fn keyed_peek_n_agrees_with_check_n() {
    for alg in ALGORITHMS {
        let clock = ManualClock::new();
        let q = Quota::per_second(6).unwrap();
        let lim = Limiter::builder(q)
            .algorithm(alg)
            .capacity(1024)
            .clock(clock.clone())
            .build()
            .unwrap();
        clock.set(Duration::from_secs(10));
        for step in 0..40u32 {
            let n = step % 4;
            let peeked = lim.peek_n("k", n).unwrap();
            assert_eq!(lim.check_n("k", n).unwrap(), peeked, "{alg:?} step {step}");
            clock.advance(Duration::from_millis(70));
        }
        assert!(lim.peek_n("k", 7).is_err());
        assert!(lim.peek_n("never-seen", 3).unwrap().is_allowed());
    }
}
