//! The count of permits out, in one 32-bit word that blocked threads sleep on.
//!
//! The low 31 bits count the permits out; the top bit, `WAITERS`, says that some
//! thread or task may be asleep waiting for a permit. A waiter that finds the count
//! at the limit sets the bit and sleeps on the exact word it saw, bit included; a
//! release that takes the count down from a word with the bit clears the bit and
//! wakes every sleeper. A release that finds the bit clear makes no system call.
//!
//! No lost wake-up. A thread sleeps only through a futex wait on a word `w` that
//! has `WAITERS` set, and the futex queues it only if the word still equals `w`,
//! in one step with respect to wakes. From then on the bit stays set until a
//! release clears it, and that release wakes every thread queued on the word after
//! clearing it; the first release after the thread fell asleep finds the bit set,
//! because only a release clears it, and so a sleeper is woken by the first
//! permit given back after it slept, at the latest. A thread whose futex check
//! fails (the word moved) returns at once and looks again.
//!
//! Why wake all and not one. With a single bit, waking one sleeper is not enough
//! when several permits come back at once: the first release clears the bit and
//! wakes one sleeper, the second then sees no bit and wakes nobody, and a second
//! sleeper stays asleep beside a free permit until some later release. Waking all
//! costs each surplus sleeper one failed look and a new sleep, and it makes a
//! cancelled async waiter harmless, since no wake-up is ever handed to one waiter
//! alone.
//!
//! Phantom permits. A non-blocking take may add one to the count first and look
//! after ([`PermitCounter::try_add`]): an add that finds the count at the limit is
//! taken back by a release like any other, which clears the bit and wakes every
//! sleeper if it finds the bit set. A sleeper that saw the count raised by a
//! phantom slept on a word with the bit set, and the phantom's own release is a
//! release after it slept, so the argument above holds unchanged. A phantom only
//! makes other takers fail for an instant; it never lets more than the limit in,
//! since an add that overshoots hands out nothing.
//!
//! The word is reusable as it stands by any limiter that keeps a count per key:
//! the protocol needs only the word and the limit.

use crate::sync::{AtomicU32, Ordering};

/// Set while some thread or task may be asleep waiting for a permit.
const WAITERS: u32 = 1 << 31;

/// The largest count the word holds: everything below the waiters bit.
pub(crate) const MAX_COUNT: u32 = WAITERS - 1;

/// The largest limit [`PermitCounter::try_add`] serves: the phantom permits of
/// adds in flight (at most one per thread) must never carry into `WAITERS`.
pub(crate) const FAST_MAX: u32 = MAX_COUNT / 2;

/// Permits out, and whether anyone waits for one.
#[derive(Debug)]
pub(crate) struct PermitCounter {
    word: AtomicU32,
}

impl PermitCounter {
    pub(crate) fn new() -> Self {
        Self {
            word: AtomicU32::new(0),
        }
    }

    /// The permits out now.
    pub(crate) fn count(&self) -> u32 {
        // Relaxed: a snapshot for callers to read, ordering nothing.
        self.word.load(Ordering::Relaxed) & MAX_COUNT
    }

    /// Takes a permit if fewer than `max` are out; otherwise returns the full word
    /// it saw, for [`mark_waiters`](Self::mark_waiters).
    #[inline]
    pub(crate) fn try_take(&self, max: u32) -> Result<(), u32> {
        // Relaxed: a stale word costs only a failed compare-exchange or a look again.
        let mut cur = self.word.load(Ordering::Relaxed);
        loop {
            if cur & MAX_COUNT >= max {
                return Err(cur);
            }
            // Acquire on success: pairs with the Release of the permit given back, so
            // the last holder's work happens-before the new holder's.
            match self.word.compare_exchange_weak(
                cur,
                cur + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(seen) => cur = seen,
            }
        }
    }

    /// Takes a permit if fewer than `max` are out, by one add that is taken back
    /// when it overshoots; `Err(true)` if taking it back woke sleepers (the caller
    /// then wakes its async waiters too). Only for `max` up to [`FAST_MAX`].
    ///
    /// An add that overshoots holds a phantom permit until it is taken back, so a
    /// concurrent taker may fail while a real permit is free; its undo is a release
    /// like any other (it wakes whoever slept on the word it made), so no wake-up is
    /// lost.
    #[inline]
    pub(crate) fn try_add(&self, max: u32) -> Result<(), bool> {
        debug_assert!(max <= FAST_MAX);
        // Acquire: pairs with the Release of the permit given back, so the last
        // holder's work happens-before the new holder's.
        let prev = self.word.fetch_add(1, Ordering::Acquire);
        if prev & MAX_COUNT < max {
            return Ok(());
        }
        Err(self.give())
    }

    /// Sets the waiters bit on the full word `seen`, and returns the word to sleep
    /// on, or `None` if the word has moved since and the caller must look again.
    #[cfg(feature = "std")]
    pub(crate) fn mark_waiters(&self, seen: u32) -> Option<u32> {
        if seen & WAITERS != 0 {
            return Some(seen);
        }
        let marked = seen | WAITERS;
        // Relaxed: the bit carries no data; the futex check compares values only.
        self.word
            .compare_exchange(seen, marked, Ordering::Relaxed, Ordering::Relaxed)
            .ok()
            .map(|_| marked)
    }

    /// Takes a permit, sleeping on the word while `max` are out.
    #[cfg(feature = "std")]
    pub(crate) fn take(&self, max: u32) {
        while let Err(seen) = self.try_take(max) {
            if let Some(marked) = self.mark_waiters(seen) {
                crate::sync::wait(&self.word, marked);
            }
        }
    }

    /// Gives a permit back (or takes back an add that overshot); wakes the threads asleep on the word and returns true
    /// if the waiters bit was set (the caller then wakes its async waiters too).
    #[inline]
    pub(crate) fn give(&self) -> bool {
        // Release: publishes the holder's work to the next taker's Acquire.
        let prev = self.word.fetch_sub(1, Ordering::Release);
        debug_assert!(
            prev & MAX_COUNT > 0,
            "a permit given back that was never taken"
        );
        if prev & WAITERS == 0 {
            return false;
        }
        self.wake();
        true
    }

    #[cold]
    fn wake(&self) {
        // Relaxed: the bit carries no data; the woken take their permit with Acquire.
        self.word.fetch_and(!WAITERS, Ordering::Relaxed);
        #[cfg(feature = "std")]
        crate::sync::wake_all(&self.word);
    }
}
