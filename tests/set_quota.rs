//! `set_quota` on a running limiter: the states keep their meaning (a TAT stays, a
//! window's count stays), quotas the encoding cannot hold are refused with the
//! build's error, and threads racing `set_quota` against checks admit exact counts.
//! Also snapshots restored into a limiter with another quota.

#![cfg(not(loom))]

mod common;

use common::*;
use ratecell::BuildError;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

fn direct(q: Quota, a: Algorithm, clock: &ManualClock) -> DirectLimiter<ManualClock> {
    DirectLimiter::builder(q)
        .algorithm(a)
        .clock(clock.clone())
        .build()
        .unwrap()
}

fn per_min(n: u32) -> Quota {
    Quota::per_minute(n).unwrap()
}

fn admitted(mut check: impl FnMut() -> Decision, tries: usize) -> usize {
    (0..tries).filter(|_| check().is_allowed()).count()
}

#[test]
fn a_window_count_stays_when_the_limit_changes() {
    for a in [Algorithm::FixedWindow, Algorithm::SlidingWindowCounter] {
        let clock = ManualClock::new();
        clock.set(T0);
        let lim = direct(per_min(5), a, &clock);
        assert_eq!(admitted(|| lim.check(), 10), 5, "{a:?}");
        // Raised to 8 after 5 admissions: 3 left.
        lim.set_quota(per_min(8)).unwrap();
        assert_eq!(lim.quota(), per_min(8));
        // (A peek answers as the check would: remaining after it is admitted.)
        assert_eq!(lim.peek().remaining(), 2, "{a:?}");
        assert_eq!(admitted(|| lim.check(), 10), 3, "{a:?}");
        // Lowered to 2 after 8: denied, remaining 0, no panic.
        lim.set_quota(per_min(2)).unwrap();
        let d = lim.check();
        assert!(!d.is_allowed());
        assert_eq!((d.limit(), d.remaining()), (2, 0));
        let keyed = keyed(per_min(5), a, 100, &clock, None);
        assert_eq!(admitted(|| keyed.check("k"), 10), 5);
        keyed.set_quota(per_min(8)).unwrap();
        assert_eq!(admitted(|| keyed.check("k"), 10), 3);
        assert_eq!(admitted(|| keyed.check("other"), 10), 8);
        keyed.set_quota(per_min(2)).unwrap();
        assert_eq!(admitted(|| keyed.check("k"), 10), 0);
    }
    // The next fixed window starts from zero under the new limit.
    let clock = ManualClock::new();
    clock.set(T0);
    let lim = direct(per_min(5), Algorithm::FixedWindow, &clock);
    assert_eq!(admitted(|| lim.check(), 10), 5);
    lim.set_quota(per_min(2)).unwrap();
    clock.advance(Duration::from_secs(60));
    assert_eq!(admitted(|| lim.check(), 10), 2);
}

#[test]
fn a_token_bucket_keeps_its_debt_and_refills_at_the_new_rate() {
    let clock = ManualClock::new();
    clock.set(T0);
    // 2/s, burst 2: two admissions at T0 leave TAT = T0 + 1 s.
    let q = Quota::per_second(2).unwrap();
    for a in [Algorithm::TokenBucket, Algorithm::LeakyBucket] {
        let lim = direct(q, a, &clock);
        assert_eq!(admitted(|| lim.check(), 5), 2);
        // 1/s, burst 1 (tau = 0): allowed from TAT - tau = T0 + 1 s.
        lim.set_quota(Quota::per_second(1).unwrap()).unwrap();
        let d = lim.check();
        assert!(!d.is_allowed());
        assert_eq!(d.retry_after(), Some(Duration::from_secs(1)));
        clock.advance(Duration::from_millis(999));
        assert!(!lim.check().is_allowed());
        clock.advance(Duration::from_millis(1));
        assert!(lim.check().is_allowed());
        // Now TAT = now + 1 s: one token owed. A bucket of 4 at 1/s has 3 left.
        lim.set_quota(Quota::per_second(1).unwrap().with_burst(4).unwrap())
            .unwrap();
        assert_eq!(admitted(|| lim.check(), 10), 3);
        clock.set(T0);
    }
}

#[test]
fn a_log_keeps_its_times_and_its_ring_bounds_the_limit() {
    let clock = ManualClock::new();
    clock.set(T0);
    let lim = direct(per_min(5), Algorithm::SlidingWindowLog, &clock);
    for _ in 0..4 {
        assert!(lim.check().is_allowed());
        clock.advance(Duration::from_secs(1));
    }
    // Times T0 .. T0+3 s. Lowered to 3: the third newest (T0+1 s) blocks until it
    // leaves the window, at T0+61 s.
    lim.set_quota(per_min(3)).unwrap();
    let d = lim.check();
    assert!(!d.is_allowed());
    assert_eq!(d.retry_after(), Some(Duration::from_secs(57)));
    clock.set(T0 + Duration::from_secs(61));
    assert!(lim.check().is_allowed());
    assert!(!lim.check().is_allowed());
    // Back to 5: T0+2, T0+3, T0+61 are in the window; 2 more fit.
    lim.set_quota(per_min(5)).unwrap();
    assert_eq!(admitted(|| lim.check(), 10), 2);
    // The ring was allocated for 5 at build: 6 is too large; another period is fine.
    assert_eq!(
        lim.set_quota(per_min(6)),
        Err(BuildError::QuotaTooLargeForAlgorithm(
            Algorithm::SlidingWindowLog
        ))
    );
    lim.set_quota(Quota::new(5, Duration::from_secs(10)).unwrap())
        .unwrap();
    let keyed = keyed(per_min(3), Algorithm::SlidingWindowLog, 16, &clock, None);
    assert_eq!(admitted(|| keyed.check("k"), 5), 3);
    keyed.set_quota(per_min(2)).unwrap();
    assert_eq!(admitted(|| keyed.check("j"), 5), 2);
    assert!(keyed.set_quota(per_min(4)).is_err());
}

#[test]
fn refused_quotas_leave_the_quota_unchanged() {
    let clock = ManualClock::new();
    for a in [Algorithm::FixedWindow, Algorithm::SlidingWindowCounter] {
        let lim = direct(per_min(5), a, &clock);
        assert_eq!(
            lim.set_quota(Quota::per_second(5).unwrap()),
            Err(BuildError::PeriodChangeOnWindow(a))
        );
        assert_eq!(
            lim.set_quota(per_min(5).with_burst(5).unwrap()),
            Err(BuildError::BurstOnWindowAlgorithm(a))
        );
        assert_eq!(lim.quota(), per_min(5));
    }
    // What a build refuses, set_quota refuses: the counter's packed state at 1 ms.
    let q = Quota::new(200_000, Duration::from_millis(1)).unwrap();
    assert_eq!(
        DirectLimiter::builder(q)
            .algorithm(Algorithm::SlidingWindowCounter)
            .build()
            .err(),
        Some(BuildError::QuotaTooLargeForAlgorithm(
            Algorithm::SlidingWindowCounter
        ))
    );
    let small = Quota::new(5, Duration::from_millis(1)).unwrap();
    let lim = direct(small, Algorithm::SlidingWindowCounter, &clock);
    assert_eq!(
        lim.set_quota(q),
        Err(BuildError::QuotaTooLargeForAlgorithm(
            Algorithm::SlidingWindowCounter
        ))
    );
    assert_eq!(lim.quota(), small);
    // The token bucket takes any quota, bursts included.
    let lim = direct(per_min(5), Algorithm::TokenBucket, &clock);
    lim.set_quota(Quota::per_day(1).unwrap().with_burst(1000).unwrap())
        .unwrap();
    assert_eq!(lim.check().limit(), 1000);
}

/// Quotas raised and lowered while threads check one key each of a keyed limiter
/// and a direct limiter with the clock still: counts never decrease, so each
/// checker ends with exactly the last quota's limit admitted once it sees a denial
/// that started after the last change.
#[test]
fn threads_racing_set_quota_admit_exactly_the_last_limit() {
    const CHECKERS: usize = 4;
    let limits = [10, 3, 40, 7, 25, 64];
    let last = *limits.last().unwrap() as u64;
    for a in [Algorithm::FixedWindow, Algorithm::SlidingWindowCounter] {
        for _round in 0..20 {
            let clock = ManualClock::new();
            clock.set(T0);
            let one = Arc::new(direct(per_min(limits[0]), a, &clock));
            let many = Arc::new(keyed(per_min(limits[0]), a, 64, &clock, None));
            let done = Arc::new(AtomicBool::new(false));
            let total = Arc::new(AtomicU64::new(0));
            let per_key = Arc::new(AtomicU64::new(0));
            let start = Arc::new(Barrier::new(CHECKERS + 1));
            let threads: Vec<_> = (0..CHECKERS)
                .map(|i| {
                    let (one, many, done, total, per_key, start) = (
                        one.clone(),
                        many.clone(),
                        done.clone(),
                        total.clone(),
                        per_key.clone(),
                        start.clone(),
                    );
                    std::thread::spawn(move || {
                        start.wait();
                        let mut mine = 0;
                        loop {
                            // Read before the checks: a denial after this saw the
                            // last quota.
                            let finished = done.load(Ordering::SeqCst);
                            let d = one.check();
                            total.fetch_add(u64::from(d.is_allowed()), Ordering::Relaxed);
                            let k = many.check(&i);
                            mine += u64::from(k.is_allowed());
                            if finished && !d.is_allowed() && !k.is_allowed() {
                                break;
                            }
                        }
                        per_key.fetch_add(u64::from(mine == last), Ordering::Relaxed);
                    })
                })
                .collect();
            start.wait();
            for &l in &limits[1..] {
                one.set_quota(per_min(l)).unwrap();
                many.set_quota(per_min(l)).unwrap();
            }
            done.store(true, Ordering::SeqCst);
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(total.load(Ordering::Relaxed), last, "{a:?}");
            assert_eq!(per_key.load(Ordering::Relaxed), CHECKERS as u64, "{a:?}");
            assert_eq!(many.stats().admitted, last * CHECKERS as u64);
        }
    }
}

#[test]
fn a_snapshot_restores_into_a_limiter_with_another_quota() {
    let dir = TempDir::new("set-quota");
    let path = dir.file("w.snap");
    let clock = ManualClock::new();
    clock.set(T0);
    for a in [Algorithm::FixedWindow, Algorithm::SlidingWindowCounter] {
        let source = keyed(per_min(5), a, 64, &clock, Some(SEEDS));
        assert_eq!(admitted(|| source.check("k"), 10), 5);
        assert_eq!(admitted(|| source.check("j"), 2), 2);
        source.snapshot_to(&path).unwrap();
        let raised = keyed(per_min(8), a, 64, &clock, None);
        assert_eq!(raised.restore_from(&path).unwrap().restored, 2);
        assert_eq!(admitted(|| raised.check("k"), 10), 3, "{a:?}");
        assert_eq!(admitted(|| raised.check("j"), 10), 6, "{a:?}");
        let lowered = keyed(per_min(2), a, 64, &clock, None);
        lowered.restore_from(&path).unwrap();
        assert_eq!(admitted(|| lowered.check("k"), 10), 0);
        assert_eq!(admitted(|| lowered.check("j"), 10), 0);
        // A limiter lowered with set_quota saves under its quota: counts above
        // the limit are saved as the limit, and mean the same (full).
        source.set_quota(per_min(3)).unwrap();
        source.snapshot_to(&path).unwrap();
        let same = keyed(per_min(3), a, 64, &clock, None);
        same.restore_from(&path).unwrap();
        assert_eq!(admitted(|| same.check("k"), 10), 0);
        assert_eq!(admitted(|| same.check("j"), 10), 1);
        let direct_src = direct(per_min(5), a, &clock);
        assert_eq!(admitted(|| direct_src.check(), 3), 3);
        direct_src.snapshot_to(&path).unwrap();
        let d8 = direct(per_min(8), a, &clock);
        d8.restore_from(&path).unwrap();
        assert_eq!(admitted(|| d8.check(), 10), 5);
        // Another period: the live count moves into now's window of the new one.
        let secs = direct(Quota::per_second(4).unwrap(), a, &clock);
        secs.restore_from(&path).unwrap();
        assert_eq!(admitted(|| secs.check(), 10), 1, "{a:?}");
        clock.advance(Duration::from_secs(120));
    }
}

#[test]
fn a_bucket_snapshot_keeps_its_debt_under_another_quota_and_is_clamped() {
    let dir = TempDir::new("set-quota-gcra");
    let path = dir.file("b.snap");
    let clock = ManualClock::new();
    clock.set(T0);
    // 10/s with a burst of 10 drained at T0: TAT = T0 + 1 s.
    let source = keyed(
        Quota::per_second(10).unwrap(),
        Algorithm::TokenBucket,
        64,
        &clock,
        Some(SEEDS),
    );
    assert_eq!(admitted(|| source.check("k"), 20), 10);
    source.snapshot_to(&path).unwrap();
    // 1/s, burst 2 (tau = 1 s): the furthest TAT at T0 is T0 + 2 s; T0 + 1 s stays,
    // and one request fits now.
    let slow = keyed(
        Quota::per_second(1).unwrap().with_burst(2).unwrap(),
        Algorithm::TokenBucket,
        64,
        &clock,
        None,
    );
    let info = slow.restore_from(&path).unwrap();
    assert_eq!((info.restored, info.clamped), (1, 0));
    assert_eq!(admitted(|| slow.check("k"), 5), 1);
    // 1/s burst 1 (tau = 0): the furthest TAT at T0 is T0 + 1 s: not clamped;
    // 1/min burst 1: T0 + 1 s is within T0 + 60 s too. A file whose TAT lies
    // beyond what the new quota reaches is clamped: 1/100ms, burst 1 -> T0+100ms.
    let fast = keyed(
        Quota::new(1, Duration::from_millis(100)).unwrap(),
        Algorithm::TokenBucket,
        64,
        &clock,
        None,
    );
    let info = fast.restore_from(&path).unwrap();
    assert_eq!((info.restored, info.clamped), (1, 1));
    let d = fast.check("k");
    assert_eq!(d.retry_after(), Some(Duration::from_millis(100)));
    // Another algorithm is still refused.
    let other = keyed(
        Quota::per_second(10).unwrap(),
        Algorithm::FixedWindow,
        64,
        &clock,
        None,
    );
    assert!(matches!(
        refusal(other.restore_from(&path)),
        Refusal::AlgorithmMismatch { .. }
    ));
}

#[test]
fn a_log_snapshot_restores_into_a_smaller_or_larger_log() {
    let dir = TempDir::new("set-quota-log");
    let path = dir.file("l.snap");
    let clock = ManualClock::new();
    clock.set(T0);
    let source = keyed(
        per_min(5),
        Algorithm::SlidingWindowLog,
        16,
        &clock,
        Some(SEEDS),
    );
    for _ in 0..4 {
        assert!(source.check("k").is_allowed());
        clock.advance(Duration::from_secs(1));
    }
    source.snapshot_to(&path).unwrap();
    // Into 2/minute: the two newest times (T0+2, T0+3 s) are kept and block.
    let small = keyed(per_min(2), Algorithm::SlidingWindowLog, 16, &clock, None);
    small.restore_from(&path).unwrap();
    let d = small.check("k");
    assert!(!d.is_allowed());
    assert_eq!(d.retry_after(), Some(Duration::from_secs(58)));
    // Into 10/minute: all four kept, six left.
    let large = keyed(per_min(10), Algorithm::SlidingWindowLog, 16, &clock, None);
    large.restore_from(&path).unwrap();
    assert_eq!(admitted(|| large.check("k"), 20), 6);
    // A log whose quota was lowered saves only its newest L times.
    large.set_quota(per_min(3)).unwrap();
    large.snapshot_to(&path).unwrap();
    let three = keyed(per_min(3), Algorithm::SlidingWindowLog, 16, &clock, None);
    three.restore_from(&path).unwrap();
    assert_eq!(admitted(|| three.check("k"), 5), 0);
}
