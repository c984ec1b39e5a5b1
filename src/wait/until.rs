//! Async waits (feature `tokio`): the same booking, a tokio sleep, and the booking
//! given back when the future is dropped before its time.

use super::blocking::deadline;
use super::{Booking, Reservation};
use crate::clock::{Clock, Nanos};
use crate::decision::Decision;
use crate::error::InsufficientCapacity;
use crate::limiter::{DirectLimiter, Limiter};
use crate::store::StateStore;
use core::hash::Hash;
use core::time::Duration;

/// Cancels its booking when dropped, unless the booking's time has come.
struct CancelOnDrop<F: Fn(&Reservation)> {
    cancel: F,
    booked: Option<Reservation>,
}

impl<F: Fn(&Reservation)> Drop for CancelOnDrop<F> {
    fn drop(&mut self) {
        if let Some(r) = self.booked.take() {
            (self.cancel)(&r);
        }
    }
}

/// Sleeps the task until `clock` reads `at` (see [`Clock::wait_time`]).
async fn sleep_until<C: Clock>(clock: &C, at: Nanos) {
    loop {
        let d = clock.wait_time(at);
        if d.is_zero() {
            return;
        }
        tokio::time::sleep_until(tokio::time::Instant::now() + d).await;
    }
}

/// The async twin of the blocking `wait_for`: a dropped future gives its
/// booking back through `cancel`.
async fn until<C: Clock>(
    clock: &C,
    deadline: Nanos,
    book: impl Fn(Nanos) -> Booking,
    cancel: impl Fn(&Reservation),
) -> Decision {
    loop {
        match book(deadline) {
            Booking::Booked(r) if !r.waits => return r.decision,
            Booking::Booked(r) => {
                let mut guard = CancelOnDrop {
                    cancel: &cancel,
                    booked: Some(r),
                };
                sleep_until(clock, r.at).await;
                // The booking's time has come: it is the caller's now.
                guard.booked = None;
                return r.decision;
            }
            Booking::TooLate(d) => return d,
            Booking::Later { retry_at, decision } => {
                if retry_at > deadline {
                    return decision;
                }
                sleep_until(clock, retry_at).await;
            }
        }
    }
}

impl<C: Clock> DirectLimiter<C> {
    /// Waits as a task until one request is admitted; the async form of
    /// [`wait`](Self::wait), with the same booking and order.
    ///
    /// The booking is made when the future is first polled, and given back (as far
    /// as no later booking depends on it) if the future is dropped before its
    /// time: a cancelled wait does not keep others waiting. Needs a tokio runtime
    /// with its time driver.
    pub async fn until_ready(&self) -> Decision {
        self.until_n_deadline(1, None).await
    }

    /// Waits as a task until a request of cost `n` is admitted; see
    /// [`until_ready`](Self::until_ready) and [`wait_n`](Self::wait_n).
    pub async fn until_n_ready(&self, n: u32) -> Result<Decision, InsufficientCapacity> {
        self.until_n_checked(n, None).await
    }

    /// Like [`until_ready`](Self::until_ready), only if admitted within `max`:
    /// otherwise it completes at once, booking nothing; see
    /// [`wait_within`](Self::wait_within).
    pub async fn until_ready_within(&self, max: Duration) -> Decision {
        self.until_n_deadline(1, Some(max)).await
    }

    /// Like [`until_n_ready`](Self::until_n_ready), only if admitted within `max`.
    pub async fn until_n_ready_within(
        &self,
        n: u32,
        max: Duration,
    ) -> Result<Decision, InsufficientCapacity> {
        self.until_n_checked(n, Some(max)).await
    }

    async fn until_n_checked(
        &self,
        n: u32,
        max: Option<Duration>,
    ) -> Result<Decision, InsufficientCapacity> {
        match self
            .params
            .load()
            .cost(n)
            .map_err(|max| InsufficientCapacity::new(n, max))?
        {
            Some(cost) => Ok(self.until_n_deadline(cost, max).await),
            None => Ok(self.peek()),
        }
    }

    async fn until_n_deadline(&self, cost: u64, max: Option<Duration>) -> Decision {
        let deadline = deadline(&self.clock, max);
        until(
            &self.clock,
            deadline,
            |deadline| self.book(cost, deadline),
            |r| self.cancel(r),
        )
        .await
    }
}

impl<C: Clock, S: StateStore> Limiter<C, S> {
    /// Waits as a task until one request for `key` is admitted; the async form of
    /// [`wait_key`](Self::wait_key). Dropping the future before its time gives the
    /// booking back; see [`DirectLimiter::until_ready`].
    pub async fn until_key_ready<K: Hash + ?Sized>(&self, key: &K) -> Decision {
        self.until_key_deadline(key, 1, None).await
    }

    /// Waits as a task until a request of cost `n` for `key` is admitted.
    pub async fn until_key_n_ready<K: Hash + ?Sized>(
        &self,
        key: &K,
        n: u32,
    ) -> Result<Decision, InsufficientCapacity> {
        self.until_key_checked(key, n, None).await
    }

    /// Like [`until_key_ready`](Self::until_key_ready), only if admitted within
    /// `max`; see [`DirectLimiter::wait_within`].
    pub async fn until_key_ready_within<K: Hash + ?Sized>(
        &self,
        key: &K,
        max: Duration,
    ) -> Decision {
        self.until_key_deadline(key, 1, Some(max)).await
    }

    /// Like [`until_key_n_ready`](Self::until_key_n_ready), only if admitted within
    /// `max`.
    pub async fn until_key_n_ready_within<K: Hash + ?Sized>(
        &self,
        key: &K,
        n: u32,
        max: Duration,
    ) -> Result<Decision, InsufficientCapacity> {
        self.until_key_checked(key, n, Some(max)).await
    }

    async fn until_key_checked<K: Hash + ?Sized>(
        &self,
        key: &K,
        n: u32,
        max: Option<Duration>,
    ) -> Result<Decision, InsufficientCapacity> {
        match self
            .params
            .load()
            .cost(n)
            .map_err(|max| InsufficientCapacity::new(n, max))?
        {
            Some(cost) => Ok(self.until_key_deadline(key, cost, max).await),
            None => Ok(self.peek(key)),
        }
    }

    async fn until_key_deadline<K: Hash + ?Sized>(
        &self,
        key: &K,
        cost: u64,
        max: Option<Duration>,
    ) -> Decision {
        let deadline = deadline(&self.clock, max);
        until(
            &self.clock,
            deadline,
            |deadline| self.book(key, cost, deadline),
            |r| self.cancel(key, r),
        )
        .await
    }
}
