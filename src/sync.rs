//! The one door through which every atomic in the crate passes.
//!
//! Under `--cfg loom` the types below are loom's, so the model checker sees every
//! load, store and compare-exchange the protocols make; otherwise they are the
//! standard ones. Nothing else in the crate names `core::sync::atomic` directly.
//! (The layout follows tokio's `src/loom/`: code written against this module reads
//! exactly like ordinary atomic code.)

#[cfg(not(loom))]
mod imp {
    pub(crate) use alloc::sync::Arc;
    pub(crate) use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
    pub(crate) use portable_atomic::AtomicU128;

    /// Sleeps while `word` holds `expected` (the check and the sleep are one step
    /// for a concurrent wake); may return spuriously.
    #[cfg(feature = "std")]
    pub(crate) fn wait(word: &AtomicU32, expected: u32) {
        atomic_wait::wait(word, expected);
    }

    /// Wakes every thread sleeping in [`wait`] on `word`.
    #[cfg(feature = "std")]
    pub(crate) fn wake_all(word: &AtomicU32) {
        atomic_wait::wake_all(word);
    }
}

#[cfg(loom)]
mod imp {
    pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};
    pub(crate) use loom::sync::Arc;

    /// loom has no futex, so each 32-bit word carries a loom mutex and condvar that
    /// model one: [`wait`] re-checks the word under the mutex before it sleeps on
    /// the condvar, and a wake takes the mutex, so a wake that comes after the
    /// waiter's check always finds it asleep and a wake that is lost leaves the
    /// waiter blocked for ever, which loom reports as a deadlock.
    ///
    /// The model is stronger than a futex in two ways, neither of which the crate
    /// relies on: the mutex makes a wake happen-before the woken thread's return
    /// (a futex promises no memory ordering, so callers re-read the word with the
    /// orderings they need), and a loom condvar never wakes spuriously (a futex
    /// may, so callers loop anyway).
    pub(crate) struct AtomicU32 {
        word: loom::sync::atomic::AtomicU32,
        sleep: loom::sync::Mutex<()>,
        wake: loom::sync::Condvar,
    }

    impl AtomicU32 {
        pub(crate) fn new(v: u32) -> Self {
            Self {
                word: loom::sync::atomic::AtomicU32::new(v),
                sleep: loom::sync::Mutex::new(()),
                wake: loom::sync::Condvar::new(),
            }
        }
    }

    impl core::ops::Deref for AtomicU32 {
        type Target = loom::sync::atomic::AtomicU32;
        fn deref(&self) -> &Self::Target {
            &self.word
        }
    }

    impl core::fmt::Debug for AtomicU32 {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            self.word.fmt(f)
        }
    }

    /// The model of a futex wait: sleeps while `word` holds `expected`.
    pub(crate) fn wait(word: &AtomicU32, expected: u32) {
        let guard = word.sleep.lock().unwrap();
        // Relaxed: a wake that precedes this check took the mutex after its store,
        // so the store happens-before this load and must be seen.
        if word.word.load(Ordering::Relaxed) == expected {
            drop(word.wake.wait(guard).unwrap());
        }
    }

    /// The model of a futex wake of every sleeper.
    pub(crate) fn wake_all(word: &AtomicU32) {
        let _guard = word.sleep.lock().unwrap();
        word.wake.notify_all();
    }

    /// loom has no 128-bit atomic; a loom mutex gives the model the same
    /// linearizable load / store / compare-exchange, and loom still explores every
    /// interleaving around it.
    #[derive(Debug)]
    pub(crate) struct AtomicU128(loom::sync::Mutex<u128>);

    impl AtomicU128 {
        pub(crate) fn new(v: u128) -> Self {
            Self(loom::sync::Mutex::new(v))
        }
        pub(crate) fn load(&self, _order: Ordering) -> u128 {
            *self.0.lock().unwrap()
        }
        pub(crate) fn store(&self, v: u128, _order: Ordering) {
            *self.0.lock().unwrap() = v;
        }
        pub(crate) fn compare_exchange(
            &self,
            current: u128,
            new: u128,
            _success: Ordering,
            _failure: Ordering,
        ) -> Result<u128, u128> {
            let mut guard = self.0.lock().unwrap();
            if *guard == current {
                *guard = new;
                Ok(current)
            } else {
                Err(*guard)
            }
        }
    }
}

pub(crate) use imp::*;

/// Whether the 128-bit compare-exchange runs as one instruction on this CPU (see
/// [`crate::is_lock_free`]).
#[cfg(not(loom))]
pub(crate) fn u128_is_lock_free() -> bool {
    portable_atomic::AtomicU128::is_lock_free()
}
