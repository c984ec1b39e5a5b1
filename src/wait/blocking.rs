//! Blocking waits: book, then sleep the thread until the booked time.

use super::Booking;
use crate::clock::{duration_to_nanos, Clock, Nanos};
use crate::decision::Decision;
use crate::error::InsufficientCapacity;
use crate::limiter::{DirectLimiter, Limiter};
use crate::store::StateStore;
use core::hash::Hash;
use core::time::Duration;

/// Sleeps the thread until `clock` reads `at` (see [`Clock::wait_time`]).
pub(super) fn sleep_until<C: Clock>(clock: &C, at: Nanos) {
    loop {
        let d = clock.wait_time(at);
        if d.is_zero() {
            return;
        }
        std::thread::sleep(d);
    }
}

/// Books through `book` until a booking is made (then sleeps until it) or refused
/// for the deadline; retries only where the state could not hold a booking.
fn wait_for<C: Clock>(clock: &C, deadline: Nanos, book: impl Fn(Nanos) -> Booking) -> Decision {
    loop {
        match book(deadline) {
            Booking::Booked(r) => {
                if r.waits {
                    sleep_until(clock, r.at);
                }
                return r.decision;
            }
            Booking::TooLate(d) => return d,
            Booking::Later { retry_at, decision } => {
                if retry_at > deadline {
                    return decision;
                }
                sleep_until(clock, retry_at);
            }
        }
    }
}

/// The deadline `max` from now on `clock`.
pub(super) fn deadline<C: Clock>(clock: &C, max: Option<Duration>) -> Nanos {
    max.map_or(Nanos::MAX, |m| {
        clock.now().saturating_add(duration_to_nanos(m))
    })
}

impl<C: Clock> DirectLimiter<C> {
    /// Waits until one request is admitted, sleeping the thread, and returns the
    /// admitting decision.
    ///
    /// The wait books its place at the earliest time the request fits (one atomic
    /// operation, like a check) and sleeps exactly until then: threads waiting on
    /// one limiter are admitted in the order they booked, one emission interval
    /// apart, with no retry loop. Everything checked later sees the booked request
    /// as already admitted. (A fixed window whose window is full, and the
    /// sliding-window log, cannot book ahead: their waiters sleep until the
    /// request could fit and try again, unordered.)
    ///
    /// Blocks the thread: in async code use `until_ready` (feature `tokio`).
    ///
    /// ```
    /// use ratecell::{Clock, DirectLimiter, ManualClock, Quota};
    ///
    /// // A manual clock does not sleep: it moves to the time each wait wakes at.
    /// let clock = ManualClock::new();
    /// let lim = DirectLimiter::builder(Quota::per_second(10)?).clock(clock.clone()).build()?;
    /// for _ in 0..10 {
    ///     assert!(lim.check().is_allowed());
    /// }
    /// let d = lim.wait();
    /// assert!(d.is_allowed());
    /// assert_eq!(clock.now(), 100_000_000); // one emission interval later
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait(&self) -> Decision {
        wait_for(&self.clock, Nanos::MAX, |deadline| self.book(1, deadline))
    }

    /// Waits until a request of cost `n` is admitted; see [`wait`](Self::wait).
    ///
    /// `Err(InsufficientCapacity)` at once if `n` can never fit; a cost of 0 waits
    /// for nothing and answers like [`peek`](Self::peek).
    pub fn wait_n(&self, n: u32) -> Result<Decision, InsufficientCapacity> {
        self.wait_n_deadline(n, None)
    }

    /// Like [`wait`](Self::wait), but only if the request is admitted within
    /// `max`: otherwise it returns at once, books nothing, and answers with a
    /// denied decision whose `retry_after` is the wait it would have had.
    pub fn wait_within(&self, max: Duration) -> Decision {
        let deadline = deadline(&self.clock, Some(max));
        wait_for(&self.clock, deadline, |deadline| self.book(1, deadline))
    }

    /// Like [`wait_n`](Self::wait_n), within `max`; see
    /// [`wait_within`](Self::wait_within).
    pub fn wait_n_within(&self, n: u32, max: Duration) -> Result<Decision, InsufficientCapacity> {
        self.wait_n_deadline(n, Some(max))
    }

    fn wait_n_deadline(
        &self,
        n: u32,
        max: Option<Duration>,
    ) -> Result<Decision, InsufficientCapacity> {
        let Some(cost) = self
            .params
            .load()
            .cost(n)
            .map_err(|max| InsufficientCapacity::new(n, max))?
        else {
            return Ok(self.peek());
        };
        let deadline = deadline(&self.clock, max);
        Ok(wait_for(&self.clock, deadline, |deadline| {
            self.book(cost, deadline)
        }))
    }
}

impl<C: Clock, S: StateStore> Limiter<C, S> {
    /// Waits until one request for `key` is admitted, sleeping the thread; see
    /// [`DirectLimiter::wait`]. Waiters on one key are admitted in the order they
    /// booked. (When the table has no room for a new key, the waiter sleeps until
    /// room frees up and tries again.)
    ///
    /// Blocks the thread: in async code use `until_key_ready` (feature `tokio`).
    pub fn wait_key<K: Hash + ?Sized>(&self, key: &K) -> Decision {
        wait_for(&self.clock, Nanos::MAX, |deadline| {
            self.book(key, 1, deadline)
        })
    }

    /// Waits until a request of cost `n` for `key` is admitted; see
    /// [`DirectLimiter::wait_n`].
    pub fn wait_key_n<K: Hash + ?Sized>(
        &self,
        key: &K,
        n: u32,
    ) -> Result<Decision, InsufficientCapacity> {
        self.wait_key_n_deadline(key, n, None)
    }

    /// Like [`wait_key`](Self::wait_key), only if admitted within `max`; see
    /// [`DirectLimiter::wait_within`].
    pub fn wait_key_within<K: Hash + ?Sized>(&self, key: &K, max: Duration) -> Decision {
        let deadline = deadline(&self.clock, Some(max));
        wait_for(&self.clock, deadline, |deadline| {
            self.book(key, 1, deadline)
        })
    }

    /// Like [`wait_key_n`](Self::wait_key_n), only if admitted within `max`.
    pub fn wait_key_n_within<K: Hash + ?Sized>(
        &self,
        key: &K,
        n: u32,
        max: Duration,
    ) -> Result<Decision, InsufficientCapacity> {
        self.wait_key_n_deadline(key, n, Some(max))
    }

    fn wait_key_n_deadline<K: Hash + ?Sized>(
        &self,
        key: &K,
        n: u32,
        max: Option<Duration>,
    ) -> Result<Decision, InsufficientCapacity> {
        let Some(cost) = self
            .params
            .load()
            .cost(n)
            .map_err(|max| InsufficientCapacity::new(n, max))?
        else {
            return Ok(self.peek(key));
        };
        let deadline = deadline(&self.clock, max);
        Ok(wait_for(&self.clock, deadline, |deadline| {
            self.book(key, cost, deadline)
        }))
    }
}
