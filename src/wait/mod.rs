//! Waiting by reservation: book a place in the schedule, then sleep until it.
//!
//! A wait books its cost at the earliest time it fits (one compare-exchange, like
//! a check; the booking itself is [`reserve`](crate::algorithm::reserve)), and
//! sleeps until the limiter's clock reaches that time. Waiters on one limiter are
//! therefore admitted in the order they booked, one emission interval apart, with
//! no retry loop and no thundering herd, as Go's `x/time/rate` `Wait` does.
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | booking and cancelling on both limiters |
//! | `blocking.rs` | `wait`, `wait_n`, `wait_key`, `wait_key_n` and their deadline forms (`std`) |
//! | `until.rs` | `until_ready` and the other async waits, cancelled on drop (`tokio`) |
//!
//! Where the state cannot express a booking (a fixed window that is full, the
//! sliding-window log, a keyed table with no room for a new key) the waiter sleeps
//! until the decision's `retry_after` and books again: those waiters are not
//! ordered among themselves.

// Without `tokio` nothing cancels, and without `std` nothing waits: booking and
// cancelling stay compiled for the unit tests and loom models.
#![cfg_attr(not(feature = "tokio"), allow(dead_code))]

#[cfg(feature = "std")]
mod blocking;
#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(all(test, not(loom)))]
mod tests;
#[cfg(feature = "tokio")]
mod until;

use crate::algorithm::reserve::{self, NotBooked};
use crate::algorithm::{Algorithm, Params};
use crate::clock::{Clock, Nanos};
use crate::decision::Decision;
use crate::limiter::{DirectCell, DirectLimiter, Limiter};
use crate::store::{StateStore, Transition};
use core::hash::Hash;

/// A booking made: admitted at `at`, with the decision the check at `at` makes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reservation {
    pub(crate) at: Nanos,
    /// Whether `at` is later than the booking's reading of the clock (else the
    /// waiter need not ask the clock again).
    pub(crate) waits: bool,
    pub(crate) decision: Decision,
    /// The state the booking installed, and the one it replaced; `booked == 0`
    /// when there is nothing to give back (an admission made at once).
    booked: u64,
    before: u64,
}

/// What one attempt to book gave.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Booking {
    Booked(Reservation),
    /// Admitted only after the deadline: nothing booked; a denied decision whose
    /// `retry_after` is the wait the booking would have had.
    TooLate(Decision),
    /// The state cannot hold this booking now: nothing booked; try again at `retry_at`.
    Later {
        retry_at: Nanos,
        decision: Decision,
    },
}

impl Booking {
    /// From the state the winning attempt of `reserve::step` saw.
    #[inline]
    fn from_seen(p: &Params, seen: u64, now: Nanos, cost: u64, deadline: Nanos) -> Self {
        match reserve::book(p, seen, now, cost, deadline) {
            Ok(b) => Booking::Booked(Reservation {
                at: b.at,
                waits: b.at > now,
                decision: b.decision,
                booked: b.next,
                before: seen,
            }),
            Err(NotBooked::TooLate { at }) => {
                Booking::TooLate(reserve::refusal(p, seen, now, cost, at))
            }
            Err(NotBooked::Inexpressible) => {
                let decision = p.decide_word(seen, now, cost).1;
                Booking::later(now, decision)
            }
        }
    }

    /// An admission made at once, with nothing to give back.
    fn admitted(now: Nanos, decision: Decision) -> Self {
        Booking::Booked(Reservation {
            at: now,
            waits: false,
            decision,
            booked: 0,
            before: 0,
        })
    }

    fn later(now: Nanos, decision: Decision) -> Self {
        Booking::Later {
            // At least 1 ns on: a retry never comes at the same instant.
            retry_at: now.saturating_add(decision.retry_after.max(1)),
            decision,
        }
    }

    /// A booking of the sliding-window log: a check if the cost fits now.
    fn by_check(now: Nanos, d: Decision) -> Self {
        if d.allowed {
            Booking::admitted(now, d)
        } else {
            Booking::later(now, d)
        }
    }
}

impl<C: Clock> DirectLimiter<C> {
    /// Books `cost` (1 ..= max cost) at the earliest time it fits, if that is no
    /// later than `deadline` on the limiter's clock.
    #[inline]
    pub(crate) fn book(&self, cost: u64, deadline: Nanos) -> Booking {
        let now = self.clock.now();
        let p = &self.params.load();
        match &self.cell {
            DirectCell::Word(cell) => {
                let seen = cell.update(|s| reserve::step(p, s, now, cost, deadline));
                Booking::from_seen(p, seen, now, cost, deadline)
            }
            // Neither the log nor a sharded bucket (whose units sit in leases) can
            // book ahead: a check now, else a retry at its time.
            DirectCell::Log(_) | DirectCell::Sharded(_) => {
                Booking::by_check(now, self.decide(now, cost))
            }
        }
    }

    /// Gives back what `r` booked, as far as no later admission depends on it; a
    /// booking whose time has come gives back nothing.
    pub(crate) fn cancel(&self, r: &Reservation) {
        if r.booked == 0 || self.clock.now() >= r.at {
            return;
        }
        if let DirectCell::Word(cell) = &self.cell {
            cell.update(|s| reserve::unbook(s, r.booked, r.before));
        }
    }
}

impl<C: Clock, S: StateStore> Limiter<C, S> {
    /// Books `cost` for `key`; see [`DirectLimiter::book`].
    pub(crate) fn book<K: Hash + ?Sized>(&self, key: &K, cost: u64, deadline: Nanos) -> Booking {
        let now = self.clock.now();
        let p = &self.params.load();
        if p.algorithm == Algorithm::SlidingWindowLog {
            return Booking::by_check(now, self.decide(key, now, cost));
        }
        let expires = |s| p.word_expires_at(s);
        let admit = |s| reserve::step(p, s, now, cost, deadline);
        match self.store.transition(key, now, expires, admit) {
            Transition::Ran { seen, evicted } => {
                if evicted > 0 {
                    self.counters.evicted(evicted);
                }
                let b = Booking::from_seen(p, seen, now, cost, deadline);
                self.counters.count(matches!(b, Booking::Booked(_)));
                b
            }
            Transition::Full { free_at } => {
                self.counters.count(false);
                let mut d = p.blank_decision(false);
                d.retry_after = free_at.saturating_sub(now).max(1);
                d.reset_after = d.retry_after;
                Booking::later(now, d)
            }
        }
    }

    /// Gives back what `r` booked for `key`; see [`DirectLimiter::cancel`]. A key
    /// evicted meanwhile has nothing to give back (and the cancel claims no room).
    pub(crate) fn cancel<K: Hash + ?Sized>(&self, key: &K, r: &Reservation) {
        let now = self.clock.now();
        if r.booked == 0 || now >= r.at {
            return;
        }
        let p = &self.params.load();
        let expires = |s| p.word_expires_at(s);
        // A new key's state is 0, never a booked one: the table claims no slot.
        let _ = self.store.transition(key, now, expires, |s| {
            reserve::unbook(s, r.booked, r.before)
        });
    }
}
