//! Reservations: booking a cost at the earliest time it fits, as one state change
//! made now.
//!
//! A booking is the check that the request would pass at its admission time `at`,
//! installed at once: `at` is the earliest time, at or after `now`, at which
//! `decide` admits the cost against the current state if nothing else is admitted
//! meanwhile, and the booked state is the state that check leaves. Everything
//! checked or booked afterwards sees the booked units as already admitted, so later
//! bookings queue behind it (arrival order), and checks made before `at` count the
//! booked units early, which only ever denies more. Like a check, a booking is one
//! pure function of the state, installed by the cell's compare-exchange.
//!
//! What each algorithm books (`T`, `tau`, `L`, `P` as in the semantics):
//!
//! | algorithm | `at` | booked state |
//! |---|---|---|
//! | token bucket | `max(now, TAT + T·(n-1) - tau)` | `max(TAT, now) + n·T` |
//! | leaky bucket | `max(now, TAT)`: the request's departure | `max(TAT, now) + n·T` |
//! | sliding-window counter | the first moment the counter test passes, later in the stored window or in a later one | the check's state at `at` |
//! | fixed window | `now`, only if the cost fits now | the check's state |
//! | sliding-window log | cannot book | - |
//!
//! The token bucket's wait is exactly what the burst allows: `at` is when the bucket
//! will hold `n` tokens given everything booked before, never later; `TAT` runs
//! ahead of `now` by the queue of bookings. The queue itself is bounded only by
//! the waiters' deadlines, as in Go's `Wait`: a booking without one joins it
//! however long it is (each waiter is a sleeping thread or task, so the queue is
//! the waiters there are), while checks keep the burst's bound and are denied
//! until the queue has drained to within it. The leaky bucket's queue is likewise
//! not bounded by the burst for waits; its checks are. (A snapshot restore clamps a `TAT`
//! beyond what a check can produce, so it forgets bookings that had no room in
//! the burst; their waiters still wake at their times.)
//!
//! The sliding-window counter books into a window after the stored one only when
//! the stored window cannot take the cost (`cur + n >= L`), and leaves `(j, prev,
//! cur)` with `prev + cur >= L`: `(k+1, cur, n)`, or `(k+2, 0, n)` for a cost of
//! `L` (which fits only once the previous count weighs nothing). A check made
//! before that window starts is judged at the window's start (as for a clock set
//! back), where `prev + cur + cost > L`: it is denied, so the early installation
//! admits nothing in the current window that its own count would refuse. Later
//! bookings only add to `cur`, so this holds until the window comes.
//!
//! The fixed window cannot book a later window: its word holds one window's count,
//! and a check in the current window would count against the booked window's and
//! admit beyond its own. A waiter on a fixed window (or a log) whose cost does not
//! fit now sleeps until it could and books again; such waiters are not ordered.
//!
//! Cancelling follows Go's `x/time/rate` rule where the state can say it exactly:
//! if the state is still the one the booking installed, nothing was checked or
//! booked after it and the state goes back to the one the booking saw, exactly;
//! otherwise later admissions were judged with the booked units counted, and
//! nothing is given back (giving back under them would let them and a newcomer
//! through closer together than the quota allows). Cancels are thereby LIFO: the
//! last of several cancelled bookings gives back first, and then the one before.
//! A reset between a booking and its cancel may, in principle, leave a later state
//! equal to the booked one; the cancel then gives back that much, which a reset
//! had given back already.

use super::{Algorithm, Counter, Fixed, Gcra, Params, WordAlgorithm};
use crate::clock::Nanos;
use crate::decision::Decision;

/// The end of the timeline: no booking is made at or after it.
const END: Nanos = 1 << 63;

/// Why a booking was not made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NotBooked {
    /// The booking would be admitted at `at`, after the deadline.
    TooLate { at: Nanos },
    /// The state cannot express a booking of this cost now (see the module docs).
    Inexpressible,
}

/// A booked admission: its time, the state to install, and the decision the check
/// at that time makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Booked {
    pub at: Nanos,
    pub next: u64,
    pub decision: Decision,
}

/// A booking of `n` (1 ..= max cost) at `now` that must be admitted by
/// `deadline` (a cost that fits now always is). A cost that fits now costs one
/// decision, like a check.
#[inline]
pub(crate) fn book(
    p: &Params,
    state: u64,
    now: Nanos,
    n: u64,
    deadline: Nanos,
) -> Result<Booked, NotBooked> {
    // The deadline was taken from an earlier reading than `now`.
    let deadline = deadline.max(now);
    let at = match p.algorithm {
        Algorithm::LeakyBucket => state.max(now),
        Algorithm::SlidingWindowLog => return Err(NotBooked::Inexpressible),
        _ => {
            let (next, decision) = p.decide_word(state, now, n);
            match next {
                Some(next) => {
                    return Ok(Booked {
                        at: now,
                        next,
                        decision,
                    })
                }
                None if p.algorithm == Algorithm::FixedWindow => {
                    return Err(NotBooked::Inexpressible)
                }
                None => now.saturating_add(decision.retry_after),
            }
        }
    };
    if at >= END {
        return Err(NotBooked::Inexpressible);
    }
    if at > deadline {
        return Err(NotBooked::TooLate { at });
    }
    // The check at `at` admits for every state this crate makes; a corrupt state
    // books nothing rather than something wrong.
    match p.decide_word(state, at, n) {
        (Some(next), decision) => Ok(Booked { at, next, decision }),
        (None, _) => Err(NotBooked::Inexpressible),
    }
}

/// The state a booking installs, for a compare-exchange loop: a cost that fits now
/// takes the checks' own admission step (the booking is then that check), and only
/// a cost that does not fit is booked ahead. Agrees with [`book`]'s `next`.
#[inline(always)]
pub(crate) fn step(p: &Params, state: u64, now: Nanos, n: u64, deadline: Nanos) -> Option<u64> {
    let at_once = match p.algorithm {
        Algorithm::TokenBucket => Gcra::admit(p, state, now, n),
        Algorithm::FixedWindow => Fixed::admit(p, state, now, n),
        Algorithm::SlidingWindowCounter => Counter::admit(p, state, now, n),
        // The leaky bucket's admission may depart after the deadline.
        Algorithm::LeakyBucket | Algorithm::SlidingWindowLog => None,
    };
    at_once.or_else(|| book(p, state, now, n, deadline).ok().map(|b| b.next))
}

/// The time a booking of `n` made at `now` would be admitted, if the state can
/// express it.
#[cfg(all(test, not(loom)))]
pub(crate) fn booking_time(p: &Params, state: u64, now: Nanos, n: u64) -> Option<Nanos> {
    match book(p, state, now, n, Nanos::MAX) {
        Ok(b) => Some(b.at),
        Err(_) => None,
    }
}

/// The cancel of a booking that turned `before` into `booked`: the state goes back
/// only if it is still exactly the booked one (see the module docs).
// Only async waits cancel (feature `tokio`); the tests and loom models do too.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
#[inline]
pub(crate) fn unbook(state: u64, booked: u64, before: u64) -> Option<u64> {
    (state == booked).then_some(before)
}

/// The answer to a booking refused because it would be admitted at `at`, after
/// its deadline: denied, with `retry_after` the wait the booking would have had.
pub(crate) fn refusal(p: &Params, state: u64, now: Nanos, n: u64, at: Nanos) -> Decision {
    let (admitted, mut d) = p.decide_word(state, now, n);
    if admitted.is_some() {
        // A leaky bucket admits now but departs too late: report the state before
        // the admission, which this refusal does not make.
        d.remaining_num = d.remaining_num.saturating_add(n * p.t);
        d.reset_after = d.reset_after.saturating_sub(n * p.t);
    }
    d.allowed = false;
    d.delay = 0;
    d.retry_after = at.saturating_sub(now);
    d
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::quota::Quota;
    use core::time::Duration;

    fn params(algorithm: Algorithm, limit: u32, period: u64) -> Params {
        let q = Quota::new(limit, Duration::from_nanos(period)).unwrap();
        Params::new(algorithm, &q).unwrap()
    }

    /// Books `n` at `now` with no deadline, returning the time and updating `state`.
    fn book_now(p: &Params, state: &mut u64, now: Nanos, n: u64) -> Option<Nanos> {
        let b = book(p, *state, now, n, Nanos::MAX).ok()?;
        *state = b.next;
        Some(b.at)
    }

    #[test]
    fn token_bucket_books_one_interval_apart_after_the_burst() {
        // 10 per 1000 ns: T = 100, burst 10.
        let p = params(Algorithm::TokenBucket, 10, 1_000);
        let mut s = 0;
        let now = 5_000;
        let times: Vec<_> = (0..13)
            .map(|_| book_now(&p, &mut s, now, 1).unwrap())
            .collect();
        assert_eq!(&times[..10], &[now; 10]);
        assert_eq!(&times[10..], &[now + 100, now + 200, now + 300]);
        // The booked state is the checks' state at those times.
        assert_eq!(s, now + 13 * 100);
        // A check now is denied until the queue has drained.
        assert!(p.decide_word(s, now, 1).0.is_none());
        assert_eq!(p.decide_word(s, now, 1).1.retry_after, 400);
    }

    #[test]
    fn token_bucket_books_a_cost_when_its_tokens_are_there() {
        let p = params(Algorithm::TokenBucket, 10, 1_000);
        let mut s = 0;
        assert_eq!(book_now(&p, &mut s, 0, 10), Some(0));
        // Five tokens come back after 500 ns.
        assert_eq!(book_now(&p, &mut s, 0, 5), Some(500));
        assert_eq!(book_now(&p, &mut s, 0, 10), Some(1_500));
        assert_eq!(s, 2_500);
    }

    #[test]
    fn leaky_bucket_books_the_departure() {
        let p = params(Algorithm::LeakyBucket, 10, 1_000);
        let mut s = 0;
        let times: Vec<_> = (0..4)
            .map(|_| book_now(&p, &mut s, 1_000, 1).unwrap())
            .collect();
        assert_eq!(times, [1_000, 1_100, 1_200, 1_300]);
        // Beyond the burst, still one interval apart.
        for _ in 0..10 {
            book_now(&p, &mut s, 1_000, 1).unwrap();
        }
        assert_eq!(book_now(&p, &mut s, 1_000, 1), Some(2_400));
    }

    #[test]
    fn deadline_refuses_without_booking() {
        let p = params(Algorithm::TokenBucket, 10, 1_000);
        let mut s = 0;
        for _ in 0..10 {
            book_now(&p, &mut s, 0, 1).unwrap();
        }
        assert_eq!(book(&p, s, 0, 1, 99), Err(NotBooked::TooLate { at: 100 }));
        let b = book(&p, s, 0, 1, 100).unwrap();
        assert_eq!((b.at, b.next), (100, 1_100));
        let d = refusal(&p, s, 0, 1, 100);
        assert!(!d.is_allowed());
        assert_eq!(d.retry_after, 100);
        assert_eq!(d.remaining(), 0);

        // A leaky bucket that would admit now but depart too late.
        let p = params(Algorithm::LeakyBucket, 10, 1_000);
        let mut s = 0;
        book_now(&p, &mut s, 0, 1).unwrap();
        assert_eq!(book(&p, s, 0, 1, 99), Err(NotBooked::TooLate { at: 100 }));
        let d = refusal(&p, s, 0, 1, 100);
        assert_eq!(
            (d.is_allowed(), d.retry_after, d.delay, d.remaining()),
            (false, 100, 0, 9)
        );
        assert_eq!(d.reset_after, 100);
    }

    #[test]
    fn sliding_counter_books_later_in_the_window_then_into_the_next() {
        // 4 per 1000 ns.
        let p = params(Algorithm::SlidingWindowCounter, 4, 1_000);
        let mut s = 0;
        // Window 1 (1000..2000): four admitted at its start.
        for _ in 0..4 {
            assert_eq!(book_now(&p, &mut s, 1_000, 1), Some(1_000));
        }
        // Window 2 at 2000: prev = 4 weighs 4·(1000 - e); one more fits from e = 250.
        let mut times = Vec::new();
        for _ in 0..5 {
            times.push(book_now(&p, &mut s, 2_000, 1).unwrap());
        }
        // The fourth fits at window 3's start (prev = 3, cur = 0); the fifth once
        // prev = 3 weighs at most 2000: e >= 334.
        assert_eq!(times, [2_250, 2_500, 2_750, 3_000, 3_334]);
        // The state after the first booking into window 3 stays ahead of now, and
        // every check made in window 2 is denied.
        for t in [2_000, 2_500, 2_999] {
            assert!(p.decide_word(s, t, 1).0.is_none(), "t = {t}");
        }
        // Each booking is admitted at its time by a check on the state before it.
        let mut state = 0;
        for t in [
            1_000, 1_000, 1_000, 1_000, 2_250, 2_500, 2_750, 3_000, 3_334,
        ] {
            state = p.decide_word(state, t, 1).0.expect("admitted at its time");
        }
        assert_eq!(state, s);
    }

    #[test]
    fn fixed_window_books_only_what_fits_now() {
        let p = params(Algorithm::FixedWindow, 2, 1_000);
        let mut s = 0;
        assert_eq!(book_now(&p, &mut s, 1_500, 2), Some(1_500));
        assert_eq!(
            book(&p, s, 1_500, 1, Nanos::MAX),
            Err(NotBooked::Inexpressible)
        );
        let p = params(Algorithm::SlidingWindowLog, 2, 1_000);
        assert_eq!(booking_time(&p, 0, 0, 1), None);
    }

    #[test]
    fn unbook_restores_only_the_booked_state() {
        let p = params(Algorithm::TokenBucket, 1, 100);
        let b = book(&p, 0, 1_000, 1, Nanos::MAX).unwrap();
        let booked = b.next;
        assert_eq!((b.at, booked), (1_000, 1_100));
        let b = book(&p, booked, 1_000, 1, Nanos::MAX).unwrap();
        let later = b.next;
        assert_eq!((b.at, later), (1_100, 1_200));
        // The first booking cannot give back under the second.
        assert_eq!(unbook(later, booked, 0), None);
        // The second can, and then the first.
        assert_eq!(unbook(later, later, booked), Some(booked));
        assert_eq!(unbook(booked, booked, 0), Some(0));
    }

    /// The compare-exchange step installs exactly what `book` reports.
    #[test]
    fn step_agrees_with_book() {
        for algorithm in [
            Algorithm::TokenBucket,
            Algorithm::LeakyBucket,
            Algorithm::SlidingWindowCounter,
            Algorithm::FixedWindow,
        ] {
            let p = params(algorithm, 3, 90);
            let mut s = 0;
            for i in 0..200u64 {
                let now = 900 + i * 7 % 50 + i / 3;
                let n = 1 + i % 3;
                let deadline = now + (i * 13) % 200;
                let stepped = step(&p, s, now, n, deadline);
                assert_eq!(stepped, book(&p, s, now, n, deadline).ok().map(|b| b.next));
                if let Some(next) = stepped {
                    s = next;
                }
            }
        }
    }

    /// Against a brute-force search: the booking time is the first time at which a
    /// check admits, and the booked state is that check's state.
    #[test]
    fn booking_time_is_the_first_time_a_check_admits() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for algorithm in [
            Algorithm::TokenBucket,
            Algorithm::SlidingWindowCounter,
            Algorithm::FixedWindow,
        ] {
            for (limit, period) in [(1, 40), (3, 90), (5, 200)] {
                let p = params(algorithm, limit, period);
                for _ in 0..300 {
                    // A state made by a few bookings at random times.
                    let mut s = 0;
                    let mut now = 10 * period + next() % (3 * period);
                    for _ in 0..next() % 6 {
                        let n = 1 + next() % u64::from(limit);
                        let _ = book_now(&p, &mut s, now, n);
                        now += next() % (period / 2);
                    }
                    let n = 1 + next() % u64::from(limit);
                    let first =
                        (now..now + 16 * period).find(|&t| p.decide_word(s, t, n).0.is_some());
                    match booking_time(&p, s, now, n) {
                        Some(at) => {
                            assert_eq!(Some(at), first, "{algorithm:?} {limit}/{period}");
                            assert!(book(&p, s, now, n, at).is_ok());
                        }
                        None => {
                            assert_eq!(algorithm, Algorithm::FixedWindow);
                            assert_ne!(first, Some(now));
                        }
                    }
                }
            }
        }
    }
}
