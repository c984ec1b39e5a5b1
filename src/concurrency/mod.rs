//! In-flight limits: at most `max` permits out at once, in all (`ConcurrencyLimiter`)
//! or per key (`KeyedConcurrencyLimiter`, in `keyed.rs`).

mod counter;
mod keyed;
#[cfg(all(test, loom))]
mod loom_tests;

pub use keyed::{KeyedConcurrencyLimiter, KeyedPermit, OwnedKeyedPermit};

use crate::error::BuildError;
use alloc::sync::Arc;
use core::fmt;
use counter::{PermitCounter, FAST_MAX, MAX_COUNT};

/// At most `max` permits out at once: a lock-free counting semaphore.
///
/// [`try_acquire`](Self::try_acquire) never blocks; [`acquire`](Self::acquire)
/// sleeps on the counter word (a futex, through `atomic-wait`) until a permit comes
/// back, and [`acquire_async`](Self::acquire_async) (feature `tokio`) waits as a
/// task. A permit is given back when it is dropped. Taking and giving back a permit
/// is one atomic read-modify-write each; giving one back makes a system call only
/// when someone is asleep waiting.
///
/// ```
/// use ratecell::ConcurrencyLimiter;
///
/// let c = ConcurrencyLimiter::new(2)?;
/// let a = c.try_acquire().expect("room for two");
/// let _b = c.try_acquire().expect("room for two");
/// assert!(c.try_acquire().is_none());
/// assert_eq!(c.in_flight(), 2);
/// drop(a);
/// assert_eq!(c.in_flight(), 1);
/// # Ok::<(), ratecell::BuildError>(())
/// ```
///
/// Waiters are not served in arrival order: a permit given back goes to whichever
/// thread takes it first, a newcomer or one just woken.
pub struct ConcurrencyLimiter {
    counter: PermitCounter,
    max: u32,
    #[cfg(feature = "tokio")]
    tasks: tokio::sync::Notify,
}

impl ConcurrencyLimiter {
    /// The most permits a limiter can hold out at once.
    pub const MAX_PERMITS: u32 = MAX_COUNT;

    /// A limiter of `max` permits, none out.
    ///
    /// Fails with [`BuildError::ZeroPermits`] for 0 and
    /// [`BuildError::TooManyPermits`] above [`MAX_PERMITS`](Self::MAX_PERMITS).
    pub fn new(max: u32) -> Result<Self, BuildError> {
        if max == 0 {
            return Err(BuildError::ZeroPermits);
        }
        if max > Self::MAX_PERMITS {
            return Err(BuildError::TooManyPermits(max));
        }
        Ok(Self {
            counter: PermitCounter::new(),
            max,
            #[cfg(feature = "tokio")]
            tasks: tokio::sync::Notify::new(),
        })
    }

    /// The most permits out at once.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// The permits out now (a snapshot: other threads may change it at once).
    pub fn in_flight(&self) -> u32 {
        self.counter.count()
    }

    /// A permit, if fewer than `max` are out; never blocks.
    ///
    /// Under contention it may fail while another thread's `try_acquire` that is
    /// failing too holds the last permit for an instant (it takes one optimistically
    /// and gives it back), as a weak compare-exchange may fail spuriously.
    #[inline]
    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        self.try_take().then(|| Permit { limiter: self })
    }

    /// A permit that owns a handle on the limiter, for moving into a thread or task.
    #[inline]
    pub fn try_acquire_owned(self: &Arc<Self>) -> Option<OwnedPermit> {
        self.try_take().then(|| OwnedPermit {
            limiter: Arc::clone(self),
        })
    }

    /// One non-blocking take: one add where the limit leaves headroom for phantom
    /// permits, a compare-exchange loop otherwise.
    #[inline]
    fn try_take(&self) -> bool {
        if self.max > FAST_MAX {
            return self.counter.try_take(self.max).is_ok();
        }
        match self.counter.try_add(self.max) {
            Ok(()) => true,
            Err(woke) => {
                if woke {
                    self.wake_tasks();
                }
                false
            }
        }
    }

    /// A permit, sleeping until one is given back while `max` are out.
    ///
    /// Blocks the thread: in async code use `acquire_async` (feature `tokio`).
    #[cfg(feature = "std")]
    pub fn acquire(&self) -> Permit<'_> {
        self.counter.take(self.max);
        Permit { limiter: self }
    }

    /// Like [`acquire`](Self::acquire), for a permit to move into a thread or task.
    #[cfg(feature = "std")]
    pub fn acquire_owned(self: &Arc<Self>) -> OwnedPermit {
        self.counter.take(self.max);
        OwnedPermit {
            limiter: Arc::clone(self),
        }
    }

    /// A permit, waiting as a task (never polling in a loop) while `max` are out.
    ///
    /// Cancel-safe: a future dropped before it completes holds no permit.
    #[cfg(feature = "tokio")]
    pub async fn acquire_async(&self) -> Permit<'_> {
        self.take_async().await;
        Permit { limiter: self }
    }

    /// Like [`acquire_async`](Self::acquire_async), for a permit to move into a task.
    #[cfg(feature = "tokio")]
    pub async fn acquire_owned_async(self: &Arc<Self>) -> OwnedPermit {
        self.take_async().await;
        OwnedPermit {
            limiter: Arc::clone(self),
        }
    }

    #[cfg(feature = "tokio")]
    async fn take_async(&self) {
        loop {
            // Created before the look below: a release that the look misses finds
            // the waiters bit set (seen, or set by `mark_waiters` on the very word
            // seen), and its `notify_waiters` wakes every future created before it.
            let notified = self.tasks.notified();
            let Err(seen) = self.counter.try_take(self.max) else {
                return;
            };
            if self.counter.mark_waiters(seen).is_some() {
                notified.await;
            }
        }
    }

    #[inline]
    fn release(&self) {
        if self.counter.give() {
            self.wake_tasks();
        }
    }

    #[cold]
    fn wake_tasks(&self) {
        #[cfg(feature = "tokio")]
        self.tasks.notify_waiters();
    }
}

impl fmt::Debug for ConcurrencyLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConcurrencyLimiter")
            .field("max", &self.max)
            .field("in_flight", &self.in_flight())
            .finish_non_exhaustive()
    }
}

/// One permit of a [`ConcurrencyLimiter`], given back when dropped.
#[must_use = "a permit is given back as soon as it is dropped"]
pub struct Permit<'a> {
    limiter: &'a ConcurrencyLimiter,
}

impl Drop for Permit<'_> {
    #[inline]
    fn drop(&mut self) {
        self.limiter.release();
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").finish_non_exhaustive()
    }
}

/// A permit that holds its [`ConcurrencyLimiter`] by `Arc`, so it can move into a
/// thread or task; given back when dropped.
#[must_use = "a permit is given back as soon as it is dropped"]
pub struct OwnedPermit {
    limiter: Arc<ConcurrencyLimiter>,
}

impl OwnedPermit {
    /// The limiter this permit belongs to.
    pub fn limiter(&self) -> &Arc<ConcurrencyLimiter> {
        &self.limiter
    }
}

impl Drop for OwnedPermit {
    #[inline]
    fn drop(&mut self) {
        self.limiter.release();
    }
}

impl fmt::Debug for OwnedPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit").finish_non_exhaustive()
    }
}
