//! Counters for `Limiter::stats`, sharded so that counting never makes two threads
//! fight over one cache line.

use crate::sync::{AtomicU64, Ordering};
use alloc::boxed::Box;
use crossbeam_utils::CachePadded;

const SHARDS: usize = 16;
const _: () = assert!(SHARDS.is_power_of_two());

/// What a keyed limiter has done since it was built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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

#[derive(Debug)]
pub(crate) struct Counters {
    shards: Box<[CachePadded<Shard>]>,
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| CachePadded::new(Shard::default()))
                .collect(),
        }
    }
}

/// This thread's shard: threads take shards round-robin on first use, so up to
/// `SHARDS` threads each count on a line of their own.
#[cfg(all(feature = "std", not(loom)))]
fn shard_index() -> usize {
    use core::cell::Cell;
    use core::sync::atomic::AtomicUsize;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::thread_local! {
        static MINE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    MINE.with(|m| {
        let mut i = m.get();
        if i == usize::MAX {
            // Relaxed: only uniqueness-ish of the ticket matters, not ordering.
            i = NEXT.fetch_add(1, core::sync::atomic::Ordering::Relaxed) & (SHARDS - 1);
            m.set(i);
        }
        i
    })
}

#[cfg(not(all(feature = "std", not(loom))))]
fn shard_index() -> usize {
    0
}

impl Counters {
    #[inline]
    fn shard(&self) -> &Shard {
        // SHARDS is a power of two: a mask, not a division.
        &self.shards[shard_index() & (SHARDS - 1)]
    }

    #[inline]
    pub(crate) fn count(&self, allowed: bool) {
        let s = self.shard();
        // Relaxed: statistics publish nothing; totals are read as approximate.
        if allowed {
            s.admitted.fetch_add(1, Ordering::Relaxed);
        } else {
            s.denied.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn evicted(&self, n: u32) {
        // Relaxed: as in `count`.
        self.shard()
            .evicted
            .fetch_add(u64::from(n), Ordering::Relaxed);
    }

    pub(crate) fn total(&self) -> Stats {
        let mut t = Stats::default();
        for s in self.shards.iter() {
            // Relaxed: as in `count`.
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
