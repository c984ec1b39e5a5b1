//! Counters for `Limiter::stats`, sharded so that counting never makes two threads
//! fight over one cache line, and (for up to 64 threads) never takes a locked
//! instruction either.

use crate::sync::{AtomicU64, Ordering};
use alloc::boxed::Box;
use crossbeam_utils::CachePadded;

/// Shards owned by one thread each (the first 64 threads that count); every later
/// thread shares the last one.
const OWNED: usize = 64;

/// What a keyed limiter has done since it was built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Checks that were allowed.
    pub admitted: u64,
    /// Checks that were denied (including those denied because the table was full,
    /// under [`FullPolicy::Deny`](crate::FullPolicy::Deny)).
    pub denied: u64,
    /// Live keys evicted to make room for new ones.
    pub evicted: u64,
}

#[derive(Debug, Default)]
struct Shard {
    admitted: AtomicU64,
    denied: AtomicU64,
    evicted: AtomicU64,
}

impl Shard {
    /// Adds one to `counter`. An owned shard has a single writer, its thread, so
    /// a plain load and store cannot lose a count and costs no locked instruction;
    /// the shared shard needs the read-modify-write.
    #[inline]
    fn bump(counter: &AtomicU64, by: u64, owned: bool) {
        // Relaxed: statistics publish nothing; totals are read as approximate
        // while threads count, exact once they are done.
        if owned {
            counter.store(counter.load(Ordering::Relaxed) + by, Ordering::Relaxed);
        } else {
            counter.fetch_add(by, Ordering::Relaxed);
        }
    }
}

#[derive(Debug)]
pub(crate) struct Counters {
    /// `OWNED` shards with one writer each, then the shared one.
    shards: Box<[CachePadded<Shard>]>,
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            shards: (0..=OWNED)
                .map(|_| CachePadded::new(Shard::default()))
                .collect(),
        }
    }
}

/// This thread's ticket: threads are numbered on first use and never share or
/// reuse a number, so ticket `t < OWNED` makes the thread shard `t`'s only writer
/// in every limiter.
#[cfg(all(feature = "std", not(loom)))]
#[inline]
fn ticket() -> usize {
    use core::cell::Cell;
    use core::sync::atomic::AtomicUsize;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::thread_local! {
        static MINE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    MINE.with(|m| {
        let mut t = m.get();
        if t == usize::MAX {
            // Relaxed: only the uniqueness of the number matters.
            t = NEXT
                .fetch_add(1, core::sync::atomic::Ordering::Relaxed)
                .min(OWNED);
            m.set(t);
        }
        t
    })
}

/// Without thread-locals every thread counts on the shared shard.
#[cfg(not(all(feature = "std", not(loom))))]
fn ticket() -> usize {
    OWNED
}

impl Counters {
    #[inline]
    fn shard(&self) -> (&Shard, bool) {
        let t = ticket().min(OWNED);
        (&self.shards[t], t < OWNED)
    }

    #[inline]
    pub(crate) fn count(&self, allowed: bool) {
        let (s, owned) = self.shard();
        Shard::bump(if allowed { &s.admitted } else { &s.denied }, 1, owned);
    }

    pub(crate) fn evicted(&self, n: u32) {
        let (s, owned) = self.shard();
        Shard::bump(&s.evicted, u64::from(n), owned);
    }

    pub(crate) fn total(&self) -> Stats {
        let mut t = Stats::default();
        for s in self.shards.iter() {
            // Relaxed: as in `bump`.
            t.admitted += s.admitted.load(Ordering::Relaxed);
            t.denied += s.denied.load(Ordering::Relaxed);
            t.evicted += s.evicted.load(Ordering::Relaxed);
        }
        t
    }

    pub(crate) fn bytes(&self) -> usize {
        self.shards.len() * core::mem::size_of::<CachePadded<Shard>>()
    }
}
