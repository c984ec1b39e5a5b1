//! Booking and cancelling on both limiters, exactly, on a manual clock.

use super::Booking;
use crate::{Algorithm, Clock, DirectLimiter, Limiter, ManualClock, Quota};
use core::time::Duration;

const MS: u64 = 1_000_000;

fn direct(algorithm: Algorithm, q: &str) -> (DirectLimiter<ManualClock>, ManualClock) {
    let clock = ManualClock::new();
    clock.set(Duration::from_secs(100));
    let lim = DirectLimiter::builder(q.parse().unwrap())
        .algorithm(algorithm)
        .clock(clock.clone())
        .build()
        .unwrap();
    (lim, clock)
}

fn booked(b: Booking) -> super::Reservation {
    match b {
        Booking::Booked(r) => r,
        other => panic!("not booked: {other:?}"),
    }
}

#[test]
fn bookings_queue_one_interval_apart_and_the_last_cancel_gives_back() {
    // 10/s: T = 100 ms, burst 10.
    let (lim, clock) = direct(Algorithm::TokenBucket, "10/s");
    let now = clock.now();
    for _ in 0..10 {
        assert!(lim.check().is_allowed());
    }
    let a = booked(lim.book(1, u64::MAX));
    let b = booked(lim.book(1, u64::MAX));
    assert_eq!((a.at, b.at), (now + 100 * MS, now + 200 * MS));
    assert!(a.decision.is_allowed() && b.decision.is_allowed());
    // A check now waits behind both bookings.
    assert_eq!(lim.peek().retry_after(), Some(Duration::from_millis(300)));
    // The earlier booking cannot give back under the later one.
    lim.cancel(&a);
    assert_eq!(lim.peek().retry_after(), Some(Duration::from_millis(300)));
    // The later one gives back exactly, and then nothing depends on the earlier.
    lim.cancel(&b);
    assert_eq!(lim.peek().retry_after(), Some(Duration::from_millis(200)));
    lim.cancel(&a);
    assert_eq!(lim.peek().retry_after(), Some(Duration::from_millis(100)));
    // The next booking takes the first place again.
    assert_eq!(booked(lim.book(1, u64::MAX)).at, now + 100 * MS);
}

#[test]
fn a_booking_whose_time_has_come_gives_nothing_back() {
    let (lim, clock) = direct(Algorithm::TokenBucket, "10/s");
    for _ in 0..10 {
        assert!(lim.check().is_allowed());
    }
    let a = booked(lim.book(1, u64::MAX));
    clock.advance(Duration::from_millis(100));
    lim.cancel(&a);
    assert!(!lim.check().is_allowed());
}

#[test]
fn a_booking_admitted_at_once_gives_nothing_back() {
    let (lim, clock) = direct(Algorithm::TokenBucket, "2/s");
    let a = booked(lim.book(1, u64::MAX));
    assert_eq!(a.at, clock.now());
    assert!(lim.check().is_allowed());
    lim.cancel(&a);
    assert!(!lim.check().is_allowed());
}

#[test]
fn deadlines_refuse_without_booking() {
    let (lim, clock) = direct(Algorithm::TokenBucket, "10/s");
    for _ in 0..10 {
        assert!(lim.check().is_allowed());
    }
    let now = clock.now();
    let before = lim.peek();
    match lim.book(1, now + 100 * MS - 1) {
        Booking::TooLate(d) => {
            assert!(!d.is_allowed());
            assert_eq!(d.retry_after(), Some(Duration::from_millis(100)));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(lim.peek(), before);
    assert_eq!(booked(lim.book(1, now + 100 * MS)).at, now + 100 * MS);
}

#[test]
fn windows_that_cannot_book_say_when_to_try_again() {
    let (lim, clock) = direct(Algorithm::FixedWindow, "2/s");
    let now = clock.now();
    assert_eq!(booked(lim.book(2, u64::MAX)).at, now);
    match lim.book(1, u64::MAX) {
        Booking::Later { retry_at, decision } => {
            assert_eq!(retry_at, now + 1_000 * MS);
            assert!(!decision.is_allowed());
        }
        other => panic!("{other:?}"),
    }
    let (lim, clock) = direct(Algorithm::SlidingWindowLog, "2/s");
    let now = clock.now();
    assert_eq!(booked(lim.book(2, u64::MAX)).at, now);
    assert!(matches!(lim.book(1, u64::MAX), Booking::Later { .. }));
}

#[test]
fn keyed_bookings_queue_per_key_and_cancel() {
    let clock = ManualClock::new();
    clock.set(Duration::from_secs(100));
    let now = clock.now();
    let lim = Limiter::builder(Quota::per_second(1).unwrap())
        .capacity(100)
        .clock(clock.clone())
        .build()
        .unwrap();
    let a0 = booked(lim.book("a", 1, u64::MAX));
    let a1 = booked(lim.book("a", 1, u64::MAX));
    let b0 = booked(lim.book("b", 1, u64::MAX));
    assert_eq!((a0.at, a1.at, b0.at), (now, now + 1_000 * MS, now));
    assert_eq!(lim.stats().admitted, 3);
    lim.cancel("a", &a1);
    assert_eq!(booked(lim.book("a", 1, u64::MAX)).at, now + 1_000 * MS);
    // Cancelling for a key with no state claims no room.
    lim.cancel("nobody", &a1);
    assert_eq!(lim.len(), 2);
}

#[test]
fn blocking_waits_on_a_manual_clock_move_it_to_each_wake() {
    let (lim, clock) = direct(Algorithm::TokenBucket, "10/s");
    let start = clock.now();
    for i in 0..15u64 {
        assert!(lim.wait().is_allowed());
        assert_eq!(clock.now(), start + i.saturating_sub(9) * 100 * MS);
    }
    assert!(lim.wait_n(11).is_err());
    // Two tokens' wait is over the deadline: refused, nothing booked.
    let before = lim.peek();
    let d = lim.wait_n_within(2, Duration::from_millis(199)).unwrap();
    assert!(!d.is_allowed());
    assert_eq!(d.retry_after(), Some(Duration::from_millis(200)));
    assert_eq!(lim.peek(), before);
    assert!(lim
        .wait_n_within(2, Duration::from_millis(200))
        .unwrap()
        .is_allowed());
    assert_eq!(clock.now(), start + 700 * MS);
}

#[test]
fn a_full_fixed_window_waits_for_the_next() {
    let (lim, clock) = direct(Algorithm::FixedWindow, "2/s");
    let start = clock.now();
    for _ in 0..3 {
        assert!(lim.wait().is_allowed());
    }
    assert_eq!(clock.now(), start + 1_000 * MS);
    // Within less than the window's end: refused.
    assert!(lim.wait().is_allowed());
    let d = lim.wait_within(Duration::from_millis(999));
    assert!(!d.is_allowed());
    assert_eq!(clock.now(), start + 1_000 * MS);
}

/// Bookings never let through what checks at the same times would not: random
/// runs of checks, bookings, cancels and clock moves, then every admission that
/// went ahead (checks at their time, bookings at theirs, cancelled ones left out)
/// replayed in time order through a fresh limiter's checks, which must admit
/// every one.
#[test]
fn every_schedule_of_bookings_replays_as_checks() {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    const P: u64 = 1_000;
    let cases = [
        (Algorithm::TokenBucket, 1, None),
        (Algorithm::TokenBucket, 4, Some(2)),
        (Algorithm::TokenBucket, 3, None),
        (Algorithm::SlidingWindowCounter, 1, None),
        (Algorithm::SlidingWindowCounter, 3, None),
        (Algorithm::SlidingWindowCounter, 5, None),
        (Algorithm::FixedWindow, 3, None),
    ];
    for (algorithm, limit, burst) in cases {
        let mut q = Quota::new(limit, Duration::from_nanos(P)).unwrap();
        if let Some(b) = burst {
            q = q.with_burst(b).unwrap();
        }
        let build = |clock: &ManualClock| {
            DirectLimiter::builder(q)
                .algorithm(algorithm)
                .clock(clock.clone())
                .build()
                .unwrap()
        };
        let max = u64::from(burst.unwrap_or(limit));
        for _ in 0..400 {
            let clock = ManualClock::new();
            clock.set_nanos(10 * P);
            let lim = build(&clock);
            // (time, cost, still going ahead)
            let mut admitted: Vec<(u64, u32, bool)> = Vec::new();
            let mut booked: Vec<(super::Reservation, usize)> = Vec::new();
            for _ in 0..24 {
                let cost = (1 + next() % max) as u32;
                match next() % 5 {
                    0 | 1 => clock.advance(Duration::from_nanos(next() % (P / 2))),
                    2 => {
                        if lim.check_n(cost).unwrap().is_allowed() {
                            admitted.push((clock.now(), cost, true));
                        }
                    }
                    3 => {
                        if let Booking::Booked(r) = lim.book(u64::from(cost), u64::MAX) {
                            admitted.push((r.at, cost, true));
                            booked.push((r, admitted.len() - 1));
                        }
                    }
                    _ => {
                        let now = clock.now();
                        if let Some(i) = booked.iter().position(|(r, _)| r.at > now) {
                            let (r, at) = booked.swap_remove(i);
                            lim.cancel(&r);
                            admitted[at].2 = false;
                        }
                    }
                }
            }
            let mut replay: Vec<(u64, u32)> = admitted
                .iter()
                .filter(|a| a.2)
                .map(|&(t, c, _)| (t, c))
                .collect();
            replay.sort_by_key(|&(t, _)| t);
            let clock = ManualClock::new();
            let fresh = build(&clock);
            for (t, c) in &replay {
                clock.set_nanos(*t);
                assert!(
                    fresh.check_n(*c).unwrap().is_allowed(),
                    "{algorithm:?} {q}: {replay:?} at {t}"
                );
            }
        }
    }
}
