//! Stacked quotas: `"10/second; 1000/day"` parsed into several quotas and checked
//! all or nothing. Sequentially the stack answers exactly as a model of its
//! quotas does; under contention it never admits more than any quota allows, and
//! window quotas give back exactly what a late denial took.

#![cfg(not(loom))]

mod common;

use common::*;
use ratecell::{BuildError, QuotaError, StackedLimiter};
use std::sync::atomic::{AtomicU64, Ordering};

fn stack(spec: &str, a: Algorithm, clock: &ManualClock) -> StackedLimiter<ManualClock> {
    StackedLimiter::builder(Quota::parse_stack(spec).unwrap())
        .algorithm(a)
        .capacity(64)
        .clock(clock.clone())
        .build()
        .unwrap()
}

#[test]
fn stacks_parse_with_any_separator_and_bursts_stay_with_their_quota() {
    let s = |x: &str| Quota::parse_stack(x);
    let q = |x: &str| x.parse::<Quota>().unwrap();
    assert_eq!(s("10/second; 1000/day").unwrap(), [q("10/s"), q("1000/d")]);
    assert_eq!(
        s("10/s,1000/d|5 per minute").unwrap(),
        [q("10/s"), q("1000/d"), q("5/m")]
    );
    assert_eq!(s("10/s, burst 20").unwrap(), [q("10/s burst 20")]);
    assert_eq!(
        s("10/s; burst 20 , 1/h ; BURST=3").unwrap(),
        [q("10/s burst 20"), q("1/h burst 3")]
    );
    assert_eq!(s("100/minute").unwrap(), [q("100/minute")]);
    assert_eq!(s(""), Err(QuotaError::Empty));
    assert_eq!(s("10/s;"), Err(QuotaError::Empty));
    assert_eq!(s("10/s;;1/d"), Err(QuotaError::Empty));
    assert_eq!(s("burst 5; 1/s"), Err(QuotaError::MissingSeparator));
    assert_eq!(s("10/s; 5/fortnight"), Err(QuotaError::UnknownUnit));
    assert_eq!(
        StackedLimiter::builder([]).build().err(),
        Some(BuildError::StackSize(0))
    );
    assert_eq!(
        StackedLimiter::builder(vec![Quota::per_second(1).unwrap(); 9])
            .build()
            .err(),
        Some(BuildError::StackSize(9))
    );
    assert_eq!(
        StackedLimiter::builder(s("1/s burst 2; 1/m").unwrap())
            .algorithm(Algorithm::FixedWindow)
            .build()
            .err(),
        Some(BuildError::BurstOnWindowAlgorithm(Algorithm::FixedWindow))
    );
}

#[test]
fn a_denial_by_one_quota_consumes_from_none() {
    for a in ALGORITHMS {
        let clock = ManualClock::new();
        clock.set(T0);
        let lim = stack("1/minute; 5/second", a, &clock);
        assert!(lim.check("k").is_allowed());
        for _ in 0..10 {
            let d = lim.check("k");
            assert!(!d.is_allowed());
            assert_eq!(d.quota_index(), 0, "{a:?}");
        }
        // The per-second quota took only the one admitted request.
        let second = lim.limiter(1).unwrap();
        assert!(second.check_n("k", 4).unwrap().is_allowed(), "{a:?}");
        assert!(!second.check("k").is_allowed());
        // The decision names the quota that decided when allowed: fewest left.
        let fresh = lim.check("other");
        assert_eq!((fresh.is_allowed(), fresh.quota_index()), (true, 0));
    }
}

/// One independent direct limiter per quota, checked all or nothing in order.
struct Model(Vec<DirectLimiter<ManualClock>>);

impl Model {
    fn check(&self) -> bool {
        if self.0.iter().all(|m| m.peek().is_allowed()) {
            self.0.iter().all(|m| m.check().is_allowed())
        } else {
            false
        }
    }
}

#[test]
fn sequential_decisions_are_the_models() {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for a in ALGORITHMS {
        let spec = "3/second; 7/10s; 20/minute";
        let clock = ManualClock::new();
        clock.set(T0);
        let lim = stack(spec, a, &clock);
        let model = Model(
            Quota::parse_stack(spec)
                .unwrap()
                .into_iter()
                .map(|q| {
                    DirectLimiter::builder(q)
                        .algorithm(a)
                        .clock(clock.clone())
                        .build()
                        .unwrap()
                })
                .collect(),
        );
        let mut admitted = 0;
        for step in 0..3_000 {
            let r = next();
            if r % 4 == 0 {
                clock.advance(Duration::from_millis(r % 700));
            }
            let peeked = lim.peek("k");
            let d = lim.check("k");
            assert_eq!(peeked.is_allowed(), d.is_allowed(), "{a:?} step {step}");
            assert_eq!(d.is_allowed(), model.check(), "{a:?} step {step}");
            admitted += u64::from(d.is_allowed());
        }
        assert!(admitted > 50, "{a:?}: the run exercised admissions");
    }
}

/// Threads hammer one key with the clock still. Window quotas: at most the
/// smallest limit is admitted, and after the race a sequential drain admits
/// exactly the rest (late denials gave back exactly what they took).
#[test]
fn a_stack_racing_itself_never_admits_more_than_any_quota() {
    const THREADS: usize = 4;
    for (spec, least) in [("10/second; 15/minute", 10), ("15/second; 10/minute", 10)] {
        for a in [Algorithm::FixedWindow, Algorithm::SlidingWindowCounter] {
            for _round in 0..50 {
                let clock = ManualClock::new();
                clock.set(T0);
                let lim = Arc::new(stack(spec, a, &clock));
                let total = Arc::new(AtomicU64::new(0));
                let start = Arc::new(Barrier::new(THREADS));
                let threads: Vec<_> = (0..THREADS)
                    .map(|_| {
                        let (lim, total, start) = (lim.clone(), total.clone(), start.clone());
                        std::thread::spawn(move || {
                            start.wait();
                            for _ in 0..20 {
                                let d = lim.check("k");
                                total.fetch_add(u64::from(d.is_allowed()), Ordering::Relaxed);
                            }
                        })
                    })
                    .collect();
                for t in threads {
                    t.join().unwrap();
                }
                let raced = total.load(Ordering::Relaxed);
                assert!(raced <= least, "{spec} {a:?}: {raced} admitted");
                let drained = (0..40).filter(|_| lim.check("k").is_allowed()).count() as u64;
                assert_eq!(raced + drained, least, "{spec} {a:?}");
            }
        }
    }
    // Buckets and the log give back only what they can: never more than the
    // tightest quota, whatever the interleaving.
    for a in [
        Algorithm::TokenBucket,
        Algorithm::LeakyBucket,
        Algorithm::SlidingWindowLog,
    ] {
        for _round in 0..50 {
            let clock = ManualClock::new();
            clock.set(T0);
            let lim = Arc::new(stack("6/second; 4/minute", a, &clock));
            let total = Arc::new(AtomicU64::new(0));
            let threads: Vec<_> = (0..THREADS)
                .map(|_| {
                    let (lim, total) = (lim.clone(), total.clone());
                    std::thread::spawn(move || {
                        for _ in 0..10 {
                            let d = lim.check("k");
                            total.fetch_add(u64::from(d.is_allowed()), Ordering::Relaxed);
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            let raced = total.load(Ordering::Relaxed);
            assert!(raced <= 4, "{a:?}: {raced} admitted");
            let drained = (0..40).filter(|_| lim.check("k").is_allowed()).count() as u64;
            assert!(raced + drained <= 4, "{a:?}");
        }
    }
}

#[test]
fn costs_are_checked_against_every_quota() {
    let clock = ManualClock::new();
    let lim = stack("10/second; 3/minute", Algorithm::FixedWindow, &clock);
    let e = lim.check_n("k", 4).unwrap_err();
    assert_eq!((e.requested, e.max), (4, 3));
    assert!(lim.check_n("k", 3).unwrap().is_allowed());
    assert!(!lim.check_n("k", 1).unwrap().is_allowed());
    assert!(!lim.peek_n("k", 0).unwrap().is_allowed());
    lim.reset("k");
    assert!(lim.check_n("k", 2).unwrap().is_allowed());
}
