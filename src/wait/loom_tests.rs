//! loom models of bookings and cancels racing checks and other bookings.
//!
//! Booking and cancelling are compare-exchange loops on the limiter's word, like a
//! check: the models hold each race to its sequential histories exactly, with the
//! clock standing still, and fail unless every history was explored (loom 0.7 may
//! skip orders, see tests/loom_direct.rs; each model spawns its writer first).
//! They run with the table's models (`cargo test --release --lib loom_tests`).

use super::{Booking, Reservation};
use crate::clock::{Clock, Nanos};
use crate::{Algorithm, DirectLimiter, ManualClock, Quota};
use core::time::Duration;
use loom::sync::Arc;
use loom::thread;
use std::collections::BTreeSet;
use std::sync::Mutex;

const SECOND: Nanos = 1_000_000_000;
/// Where the clock stands: a window start, well after 0.
const START: Nanos = 10 * SECOND;

fn limiter(algorithm: Algorithm, limit: u32) -> Arc<DirectLimiter<ManualClock>> {
    let clock = ManualClock::new();
    clock.set_nanos(START);
    let q = Quota::new(limit, Duration::from_secs(1)).unwrap();
    let lim = DirectLimiter::builder(q)
        .algorithm(algorithm)
        .clock(clock)
        .build()
        .unwrap();
    Arc::new(lim)
}

fn booked(b: Booking) -> Reservation {
    match b {
        Booking::Booked(r) => r,
        other => panic!("not booked: {other:?}"),
    }
}

/// The state word, read through a check's state: the time a cost-1 check would
/// have to wait, in nanoseconds after [`START`].
fn queue(lim: &DirectLimiter<ManualClock>) -> Nanos {
    lim.peek().retry_after
}

/// Runs `model` under loom and fails unless exactly the outcomes `all` were seen.
fn explore<T, F>(name: &str, all: impl IntoIterator<Item = T>, model: F)
where
    T: Ord + Clone + std::fmt::Debug + Send + 'static,
    F: Fn() -> T + Sync + Send + 'static,
{
    let seen = std::sync::Arc::new(Mutex::new((BTreeSet::new(), 0usize)));
    let record = seen.clone();
    loom::model(move || {
        let outcome = model();
        let mut s = record.lock().unwrap();
        s.0.insert(outcome);
        s.1 += 1;
    });
    let s = seen.lock().unwrap();
    println!(
        "loom model {name}: {} executions, {} outcomes",
        s.1,
        s.0.len()
    );
    let all: BTreeSet<T> = all.into_iter().collect();
    assert_eq!(s.0, all, "{name}: not every sequential history explored");
}

/// A booking racing a check on a fresh bucket of one: whoever comes first is
/// admitted at once, and the other waits one interval (the booking) or is denied
/// (the check); never both at once, never neither.
#[test]
fn booking_racing_a_check() {
    explore(
        "booking_racing_a_check",
        [(false, 0), (true, SECOND)],
        || {
            let lim = limiter(Algorithm::TokenBucket, 1);
            let booker = {
                let lim = lim.clone();
                thread::spawn(move || booked(lim.book(1, Nanos::MAX)).at - START)
            };
            let checked = lim.check().is_allowed();
            let at = booker.join().unwrap();
            // Both are counted: the next place is one interval after the booking's.
            assert_eq!(queue(&lim), at + SECOND);
            (checked, at)
        },
    );
}

/// Two bookings and a check on a spent bucket of one: the bookings take the next
/// two places in some order, and the check waits behind whatever was booked.
#[test]
fn bookings_queue_in_arrival_order() {
    explore(
        "bookings_queue_in_arrival_order",
        [(SECOND, 2 * SECOND), (2 * SECOND, SECOND)],
        || {
            let lim = limiter(Algorithm::TokenBucket, 1);
            assert!(lim.check().is_allowed());
            let other = {
                let lim = lim.clone();
                thread::spawn(move || booked(lim.book(1, Nanos::MAX)).at - START)
            };
            let mine = booked(lim.book(1, Nanos::MAX)).at - START;
            let theirs = other.join().unwrap();
            assert!(!lim.check().is_allowed());
            assert_eq!(queue(&lim), 3 * SECOND);
            (mine, theirs)
        },
    );
}

/// Book-then-cancel racing a check (burst 2, one token left): the check is
/// admitted unless it comes between the booking and its cancel, and the cancel
/// gives back exactly what the booking took whenever nothing came after it.
#[test]
fn cancel_racing_a_check() {
    let half = SECOND / 2;
    explore(
        "cancel_racing_a_check",
        // (check admitted, booking's time, the queue left)
        [(true, 2 * half, half), (false, half, 0), (true, half, half)],
        move || {
            let lim = limiter(Algorithm::TokenBucket, 2);
            assert!(lim.check().is_allowed());
            let canceller = {
                let lim = lim.clone();
                thread::spawn(move || {
                    let r = booked(lim.book(2, Nanos::MAX));
                    lim.cancel(&r);
                    r.at - START
                })
            };
            let checked = lim.check().is_allowed();
            let at = canceller.join().unwrap();
            (checked, at, queue(&lim))
        },
    );
}

/// Book-then-cancel racing a later booking: the cancel gives back only while
/// nothing was booked after it, so the later booking's place is never taken twice.
#[test]
fn cancel_racing_a_later_booking() {
    explore(
        "cancel_racing_a_later_booking",
        // (first booking's time, second booking's time, the queue left)
        [
            (SECOND, SECOND, 2 * SECOND),
            (SECOND, 2 * SECOND, 3 * SECOND),
            (2 * SECOND, SECOND, 2 * SECOND),
        ],
        || {
            let lim = limiter(Algorithm::TokenBucket, 1);
            assert!(lim.check().is_allowed());
            let canceller = {
                let lim = lim.clone();
                thread::spawn(move || {
                    let r = booked(lim.book(1, Nanos::MAX));
                    lim.cancel(&r);
                    r.at - START
                })
            };
            let other = booked(lim.book(1, Nanos::MAX)).at - START;
            let first = canceller.join().unwrap();
            (first, other, queue(&lim))
        },
    );
}

/// A sliding-window-counter booking into a later window racing a check in the
/// current one (limit 2, one admitted): the check is admitted only before the
/// booking; after it, the window's checks see the booked window's count and are
/// denied, so the current window never admits more than its limit.
#[test]
fn counter_booking_ahead_racing_a_check() {
    explore(
        "counter_booking_ahead_racing_a_check",
        [(true, 2 * SECOND), (false, 2 * SECOND)],
        || {
            let lim = limiter(Algorithm::SlidingWindowCounter, 2);
            assert!(lim.check().is_allowed());
            let booker = {
                let lim = lim.clone();
                thread::spawn(move || booked(lim.book(2, Nanos::MAX)).at - START)
            };
            let checked = lim.check().is_allowed();
            let at = booker.join().unwrap();
            assert!(!lim.check().is_allowed());
            // The booked window takes nothing more at its start.
            lim.clock().set_nanos(START + at);
            assert!(!lim.check().is_allowed());
            (checked, at)
        },
    );
}

/// Two blocking waiters on a spent bucket of one: both admitted, one interval
/// apart, and the manual clock (which jumps rather than sleeps) ends at the later
/// wake, never moved back by the earlier.
#[test]
fn blocking_waiters_on_a_manual_clock() {
    explore("blocking_waiters_on_a_manual_clock", [3 * SECOND], || {
        let lim = limiter(Algorithm::TokenBucket, 1);
        assert!(lim.check().is_allowed());
        let other = {
            let lim = lim.clone();
            thread::spawn(move || lim.wait().is_allowed())
        };
        assert!(lim.wait().is_allowed());
        assert!(other.join().unwrap());
        assert_eq!(lim.clock().now(), START + 2 * SECOND);
        queue(&lim) + 2 * SECOND
    });
}
