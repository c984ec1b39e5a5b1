//! The one door through which every atomic in the crate passes.
//!
//! Under `--cfg loom` the types below are loom's, so the model checker sees every
//! load, store and compare-exchange the protocols make; otherwise they are the
//! standard ones. Nothing else in the crate names `core::sync::atomic` directly.
//! (The layout follows tokio's `src/loom/`: code written against this module reads
//! exactly like ordinary atomic code.)
//!
//! The loom `AtomicU128` is not the real one. It honours the caller's orderings,
//! so a missing `Acquire` or `Release` on a log head or a slot word makes a model
//! fail as it would for a 64-bit atomic, but its loads always read the newest value
//! (they are read-modify-writes in the model), so it is *stronger* than a real
//! 128-bit load, which may read an older value: stale reads of 128-bit words are
//! not explored, and the protocols instead argue that a stale word only makes a
//! compare-exchange fail or a decision linearize earlier. (A loom mutex, as this
//! shim was before, is stronger still: it orders every access like `SeqCst` and so
//! hides every missing ordering.)

#[cfg(not(loom))]
mod imp {
    pub(crate) use alloc::sync::Arc;
    pub(crate) use core::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
    pub(crate) use portable_atomic::AtomicU128;

    /// A pause in a loop that waits for another `set_quota` (never on a check path).
    pub(crate) fn spin_hint() {
        core::hint::spin_loop();
    }

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
    pub(crate) use loom::sync::atomic::{fence, AtomicU64, Ordering};
    pub(crate) use loom::sync::Arc;

    /// loom must be told that a waiting loop yields, or it explores it forever.
    pub(crate) fn spin_hint() {
        loom::thread::yield_now();
    }

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

    use loom::sync::atomic::AtomicUsize;
    use std::sync::Mutex;
    use std::vec::Vec;

    /// loom has no 128-bit atomic, so this one is a real loom atomic over *names*
    /// of 128-bit values: each distinct value the word ever holds gets one index,
    /// and a loom word holds the index. Every operation is one loom operation with
    /// the caller's orderings, so loom's causality tracking follows them (a
    /// `Relaxed` head load does not acquire the slot writes that a `Release` head
    /// exchange published); only loads are stronger (see the module docs). A
    /// compare-exchange of values is exactly one of their names, because naming
    /// is one-to-one.
    #[derive(Debug)]
    pub(crate) struct AtomicU128 {
        name: AtomicUsize,
        /// The values named so far, by name. A std mutex, invisible to loom: loom
        /// runs one thread at a time and never switches inside this lock, which is
        /// held across no loom operation.
        values: Mutex<Vec<u128>>,
    }

    impl AtomicU128 {
        pub(crate) fn new(v: u128) -> Self {
            Self {
                name: AtomicUsize::new(0),
                values: Mutex::new(std::vec![v]),
            }
        }

        /// The name of `v`, naming it first if it is new.
        fn name_of(&self, v: u128) -> usize {
            let mut values = self.values.lock().unwrap();
            values.iter().position(|&x| x == v).unwrap_or_else(|| {
                values.push(v);
                values.len() - 1
            })
        }

        fn value(&self, name: usize) -> u128 {
            self.values.lock().unwrap()[name]
        }

        /// Reads the newest value (see the module docs), with `order`'s
        /// synchronization: an RMW that writes back what it read, which continues
        /// the release sequence of the store it read and so acquires exactly what a
        /// load of that store would.
        pub(crate) fn load(&self, order: Ordering) -> u128 {
            self.value(self.name.fetch_add(0, order))
        }

        pub(crate) fn store(&self, v: u128, order: Ordering) {
            self.name.store(self.name_of(v), order);
        }

        pub(crate) fn swap(&self, v: u128, order: Ordering) -> u128 {
            self.value(self.name.swap(self.name_of(v), order))
        }

        pub(crate) fn compare_exchange(
            &self,
            current: u128,
            new: u128,
            success: Ordering,
            failure: Ordering,
        ) -> Result<u128, u128> {
            let (current, new) = (self.name_of(current), self.name_of(new));
            self.name
                .compare_exchange(current, new, success, failure)
                .map(|n| self.value(n))
                .map_err(|n| self.value(n))
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

/// A small number for the calling thread, the same on every call until
/// [`move_thread_index`] changes it: which shard of a sharded limiter it draws
/// from. Handed out in order of first use, so that the first threads spread over
/// the shards evenly.
#[cfg(all(feature = "std", not(loom)))]
#[inline]
pub(crate) fn thread_index() -> usize {
    let i = THREAD_INDEX.with(std::cell::Cell::get);
    if i != usize::MAX {
        return i;
    }
    use core::sync::atomic::AtomicUsize;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    // Relaxed: only distinctness matters, which the add gives by itself.
    let i = NEXT.fetch_add(1, core::sync::atomic::Ordering::Relaxed) % (usize::MAX / 2);
    THREAD_INDEX.with(|c| c.set(i));
    i
}

/// Gives the calling thread another index (it met another thread on its shard),
/// as striped counters such as Java's `LongAdder` do.
#[cfg(all(feature = "std", not(loom)))]
pub(crate) fn move_thread_index() {
    let i = thread_index();
    THREAD_INDEX.with(|c| c.set((i + 1) % (usize::MAX / 2)));
}

#[cfg(all(feature = "std", not(loom)))]
std::thread_local! {
    // A constant initializer (`usize::MAX`: not handed out yet) makes each read
    // one thread-local load, with no lazy-initialization state to test.
    static THREAD_INDEX: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
}

/// Without threads of `std` (or under loom, whose models pick shards explicitly)
/// every caller is thread 0.
#[cfg(not(all(feature = "std", not(loom))))]
pub(crate) fn thread_index() -> usize {
    0
}

#[cfg(not(all(feature = "std", not(loom))))]
pub(crate) fn move_thread_index() {}
