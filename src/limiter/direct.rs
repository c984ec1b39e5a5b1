//! `DirectLimiter`: one state, no key.

use crate::algorithm::{Algorithm, Counter, Fixed, Gcra, Params, WordAlgorithm};
use crate::cell::{LogCell, ShardedCell, WordCell};
use crate::clock::{Clock, DefaultClock, Nanos};
use crate::decision::Decision;
use crate::error::{BuildError, InsufficientCapacity};
use crate::limiter::builder::DirectBuilder;
use crate::limiter::live::LiveParams;
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
    pub(crate) params: LiveParams,
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
            DirectCell::Log(LogCell::new(params.ring))
        };
        Self {
            params: LiveParams::new(params, &quota),
            clock,
            cell,
        }
    }

    /// Enforces `quota` from the next check on, without a pause: checks running
    /// meanwhile finish under the quota they started with.
    ///
    /// The state keeps its meaning: a token bucket's debt stays and refills at the
    /// new rate; a window's count stays (5 admitted of 5/minute, raised to
    /// 8/minute, leaves 3; lowered to 2, denies until the window ends). A quota
    /// this limiter could not have been built with is the same [`BuildError`],
    /// and so is a larger limit than a sliding-window log's ring (allocated at
    /// build) or another period for a window algorithm
    /// ([`BuildError::PeriodChangeOnWindow`]); the quota is then unchanged.
    ///
    /// ```
    /// use ratecell::{Algorithm, DirectLimiter, ManualClock, Quota};
    ///
    /// let lim = DirectLimiter::builder(Quota::per_minute(5)?)
    ///     .algorithm(Algorithm::FixedWindow)
    ///     .clock(ManualClock::new())
    ///     .build()?;
    /// for _ in 0..5 {
    ///     assert!(lim.check().is_allowed());
    /// }
    /// lim.set_quota(Quota::per_minute(8)?)?;
    /// let admitted = (0..10).filter(|_| lim.check().is_allowed()).count();
    /// assert_eq!(admitted, 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_quota(&self, quota: Quota) -> Result<(), BuildError> {
        self.params.replace(&quota).map_err(BuildError::from)?;
        if let DirectCell::Sharded(cell) = &self.cell {
            // Held units were cut from the old schedule: drop them, keep the debt.
            cell.store_shared(cell.shared_state());
        }
        Ok(())
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
        let p = self.params.load();
        Ok(
            match p.cost(n).map_err(|max| InsufficientCapacity::new(n, max))? {
                Some(cost) => self.decide_with(&p, self.clock.now(), cost),
                None => self.peek(),
            },
        )
    }

    /// The decision `check` would give now, without consuming anything.
    pub fn peek(&self) -> Decision {
        let p = self.params.load();
        let now = self.clock.now();
        match &self.cell {
            DirectCell::Word(cell) => p.decide_word(cell.load(), now, 1).1,
            DirectCell::Log(cell) => cell.peek(&p, now),
            DirectCell::Sharded(cell) => cell.peek(&p, now, thread_index(), 1),
        }
    }

    /// The decision `check_n(n)` would give now, without consuming anything.
    ///
    /// `Err(InsufficientCapacity)` exactly when `check_n(n)` would return it; a cost
    /// of 0 answers like [`peek`](Self::peek).
    pub fn peek_n(&self, n: u32) -> Result<Decision, InsufficientCapacity> {
        let p = self.params.load();
        let Some(cost) = p.cost(n).map_err(|max| InsufficientCapacity::new(n, max))? else {
            return Ok(self.peek());
        };
        let now = self.clock.now();
        Ok(match &self.cell {
            DirectCell::Word(cell) => p.decide_word(cell.load(), now, cost).1,
            DirectCell::Log(cell) => cell.peek_n(&p, now, cost),
            DirectCell::Sharded(cell) => cell.peek(&p, now, thread_index(), cost),
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
        self.params.load_with_quota().1
    }

    /// The algorithm this limiter runs.
    pub fn algorithm(&self) -> Algorithm {
        self.params.algorithm()
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
        self.decide_with(&self.params.load(), now, cost)
    }

    #[inline(always)]
    fn decide_with(&self, p: &Params, now: Nanos, cost: u64) -> Decision {
        // The token bucket is the default and the hot case: keep its path small
        // enough to inline into the caller; everything else goes out of line.
        if let DirectCell::Word(cell) = &self.cell {
            if p.algorithm == Algorithm::TokenBucket {
                return Self::run::<Gcra>(p, cell, now, cost);
            }
        }
        // A sharded bucket is chosen to be hot too: its first step inlines as well.
        if let DirectCell::Sharded(cell) = &self.cell {
            if cost == 1 {
                return cell.check(p, now, thread_index());
            }
        }
        self.decide_other(p, now, cost)
    }

    #[inline(never)]
    fn decide_other(&self, p: &Params, now: Nanos, cost: u64) -> Decision {
        match &self.cell {
            DirectCell::Word(cell) => match p.algorithm {
                Algorithm::TokenBucket | Algorithm::LeakyBucket => {
                    Self::run::<Gcra>(p, cell, now, cost)
                }
                Algorithm::FixedWindow => Self::run::<Fixed>(p, cell, now, cost),
                _ => Self::run::<Counter>(p, cell, now, cost),
            },
            DirectCell::Log(cell) => cell.check(p, now, cost),
            DirectCell::Sharded(cell) if cost == 1 => cell.check(p, now, thread_index()),
            DirectCell::Sharded(cell) => cell.check_n(p, now, cost),
        }
    }

    #[inline(always)]
    fn run<A: WordAlgorithm>(p: &Params, cell: &WordCell, now: Nanos, cost: u64) -> Decision {
        let seen = cell.update(|state| A::admit(p, state, now, cost));
        A::decide(p, seen, now, cost).1
    }
}
