//! `DirectLimiter`: one state, no key.

use crate::algorithm::{Algorithm, Counter, Fixed, Gcra, Params, WordAlgorithm};
use crate::cell::{LogCell, ShardedCell, WordCell};
use crate::clock::{Clock, DefaultClock, Nanos};
use crate::decision::Decision;
use crate::error::InsufficientCapacity;
use crate::limiter::builder::DirectBuilder;
use crate::quota::Quota;
use crate::sync::thread_index;
#[allow(unused_imports)] // named in docs
use crate::table::FullPolicy;
use crossbeam_utils::CachePadded;

/// A limiter with a single state and no key: one rate for the whole process, a
/// connection, a downstream service.
///
/// `check` never blocks, never allocates and never takes a lock: it reads the clock
/// once and updates one atomic word (or, for the sliding-window log, a 128-bit head
/// and the slots it claims).
///
/// ```
/// use ratecell::{DirectLimiter, ManualClock, Quota};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let lim = DirectLimiter::builder(Quota::per_second(2)?).clock(clock.clone()).build()?;
/// assert!(lim.check().is_allowed());
/// assert!(lim.check().is_allowed());
/// let denied = lim.check();
/// assert_eq!(denied.retry_after(), Some(Duration::from_millis(500)));
/// clock.advance(Duration::from_millis(500));
/// assert!(lim.check().is_allowed());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct DirectLimiter<C = DefaultClock> {
    pub(crate) params: Params,
    pub(crate) quota: Quota,
    pub(crate) clock: C,
    pub(crate) cell: DirectCell,
}

#[derive(Debug)]
pub(crate) enum DirectCell {
    // Padded: a limiter is usually shared by every worker thread, and its word
    // should not share a cache line with whatever the allocator put next to it.
    Word(CachePadded<WordCell>),
    Log(LogCell),
    /// A token bucket drawn from by per-thread leases (`DirectBuilder::sharded`).
    Sharded(ShardedCell),
}

impl DirectLimiter {
    /// Starts configuring a limiter for `quota` (token bucket, default clock).
    pub fn builder(quota: Quota) -> DirectBuilder<DefaultClock> {
        DirectBuilder::new(quota)
    }
}

impl<C: Clock> DirectLimiter<C> {
    /// The limiter on its own cell: sharded over `shards`, or the algorithm's own.
    pub(crate) fn from_parts(
        params: Params,
        quota: Quota,
        clock: C,
        shards: Option<usize>,
    ) -> Self {
        let cell = if let Some(shards) = shards {
            DirectCell::Sharded(ShardedCell::new(&params, shards))
        } else if params.algorithm.is_word() {
            DirectCell::Word(CachePadded::new(WordCell::new(0)))
        } else {
            DirectCell::Log(LogCell::new(params.limit))
        };
        Self {
            params,
            quota,
            clock,
            cell,
        }
    }

    /// Checks one request (cost 1) and consumes quota if it is allowed.
    #[inline]
    pub fn check(&self) -> Decision {
        self.decide(self.clock.now(), 1)
    }

    /// Checks a request of cost `n`, all or nothing.
    ///
    /// `Err(InsufficientCapacity)` if `n` exceeds what the limiter can ever admit
    /// (its burst, or its limit for window algorithms). A cost of 0 consumes nothing
    /// and answers like [`peek`](Self::peek).
    #[inline]
    pub fn check_n(&self, n: u32) -> Result<Decision, InsufficientCapacity> {
        Ok(
            match self
                .params
                .cost(n)
                .map_err(|max| InsufficientCapacity::new(n, max))?
            {
                Some(cost) => self.decide(self.clock.now(), cost),
                None => self.peek(),
            },
        )
    }

    /// The decision `check` would give now, without consuming anything.
    pub fn peek(&self) -> Decision {
        let now = self.clock.now();
        match &self.cell {
            DirectCell::Word(cell) => self.params.decide_word(cell.load(), now, 1).1,
            DirectCell::Log(cell) => cell.peek(&self.params, now),
            DirectCell::Sharded(cell) => cell.peek(&self.params, now, thread_index(), 1),
        }
    }

    /// The decision `check_n(n)` would give now, without consuming anything.
    ///
    /// `Err(InsufficientCapacity)` exactly when `check_n(n)` would return it; a cost
    /// of 0 answers like [`peek`](Self::peek).
    pub fn peek_n(&self, n: u32) -> Result<Decision, InsufficientCapacity> {
        let Some(cost) = self
            .params
            .cost(n)
            .map_err(|max| InsufficientCapacity::new(n, max))?
        else {
            return Ok(self.peek());
        };
        let now = self.clock.now();
        Ok(match &self.cell {
            DirectCell::Word(cell) => self.params.decide_word(cell.load(), now, cost).1,
            DirectCell::Log(cell) => cell.peek_n(&self.params, now, cost),
            DirectCell::Sharded(cell) => cell.peek(&self.params, now, thread_index(), cost),
        })
    }

    /// Forgets everything admitted: the full quota is available again.
    pub fn reset(&self) {
        match &self.cell {
            DirectCell::Word(cell) => cell.store(0),
            DirectCell::Log(cell) => cell.reset(),
            DirectCell::Sharded(cell) => cell.reset(),
        }
    }

    /// The quota this limiter enforces.
    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// The algorithm this limiter runs.
    pub fn algorithm(&self) -> Algorithm {
        self.params.algorithm
    }

    /// How many shards a sharded limiter draws from (see
    /// [`DirectBuilder::sharded`](crate::DirectBuilder::sharded)); 0 for a plain one.
    pub fn shards(&self) -> usize {
        match &self.cell {
            DirectCell::Sharded(cell) => cell.shard_count(),
            _ => 0,
        }
    }

    /// The limiter's clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    #[inline(always)]
    pub(crate) fn decide(&self, now: Nanos, cost: u64) -> Decision {
        // The token bucket is the default and the hot case: keep its path small
        // enough to inline into the caller; everything else goes out of line.
        if let DirectCell::Word(cell) = &self.cell {
            if self.params.algorithm == Algorithm::TokenBucket {
                return self.run::<Gcra>(cell, now, cost);
            }
        }
        self.decide_other(now, cost)
    }

    #[inline(never)]
    fn decide_other(&self, now: Nanos, cost: u64) -> Decision {
        match &self.cell {
            DirectCell::Word(cell) => match self.params.algorithm {
                Algorithm::TokenBucket | Algorithm::LeakyBucket => {
                    self.run::<Gcra>(cell, now, cost)
                }
                Algorithm::FixedWindow => self.run::<Fixed>(cell, now, cost),
                _ => self.run::<Counter>(cell, now, cost),
            },
            DirectCell::Log(cell) => cell.check(&self.params, now, cost),
            DirectCell::Sharded(cell) if cost == 1 => cell.check(&self.params, now, thread_index()),
            DirectCell::Sharded(cell) => cell.check_n(&self.params, now, cost),
        }
    }

    #[inline(always)]
    fn run<A: WordAlgorithm>(&self, cell: &WordCell, now: Nanos, cost: u64) -> Decision {
        let p = &self.params;
        let seen = cell.update(|state| A::admit(p, state, now, cost));
        A::decide(p, seen, now, cost).1
    }
}
