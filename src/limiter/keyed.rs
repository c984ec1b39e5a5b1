//! `Limiter`: one state per key, in a store (the lock-free table by default).

use crate::algorithm::{Algorithm, Counter, Fixed, Gcra, Params, WordAlgorithm};
use crate::cell::LogMode;
use crate::clock::{Clock, DefaultClock, Nanos};
use crate::decision::Decision;
use crate::error::{BuildError, InsufficientCapacity};
use crate::limiter::builder::LimiterBuilder;
use crate::limiter::live::LiveParams;
use crate::limiter::stats::{Counters, Stats};
use crate::quota::Quota;
use crate::store::MemoryStore;
use crate::store::{StateStore, Transition};
#[allow(unused_imports)] // named in docs
use crate::table::FullPolicy;
use core::hash::Hash;

/// A limiter with one state per key: per user, per IP address, per API token.
///
/// Keys are any `K: Hash + ?Sized` (`str`, `[u8]`, integers, `IpAddr`, tuples),
/// hashed with a seeded `ahash` (random seeds per limiter) into a fixed-capacity,
/// lock-free table ([`MemoryStore`](crate::store::MemoryStore)). Memory is fixed at build (about 23.4 bytes per
/// key of capacity) and never grows: keys whose state has expired are forgotten
/// lazily, and when a new key finds its two candidate groups full of live keys the
/// [`FullPolicy`] decides (evict the soonest-expiring, or deny).
///
/// `check` never blocks, never allocates and never takes a lock.
///
/// ```
/// use ratecell::{Limiter, ManualClock, Quota};
///
/// let clock = ManualClock::new();
/// let lim = Limiter::builder(Quota::per_minute(2)?)
///     .capacity(10_000)
///     .clock(clock.clone())
///     .build()?;
/// assert!(lim.check("alice").is_allowed());
/// assert!(lim.check("alice").is_allowed());
/// assert!(!lim.check("alice").is_allowed());
/// assert!(lim.check("bob").is_allowed()); // every key has its own quota
/// lim.reset("alice");
/// assert!(lim.check("alice").is_allowed());
/// assert_eq!(lim.stats().admitted, 4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Limiter<C = DefaultClock, S = MemoryStore<C>> {
    pub(crate) params: LiveParams,
    pub(crate) clock: C,
    pub(crate) store: S,
    pub(crate) counters: Counters,
    /// Tells this limiter's tiers from another's (random per limiter).
    pub(crate) id: u64,
}

impl<C, S: core::fmt::Debug> core::fmt::Debug for Limiter<C, S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Limiter")
            .field("params", &self.params)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Limiter {
    /// Starts configuring a keyed limiter for `quota` (token bucket, default clock,
    /// [`DEFAULT_CAPACITY`](crate::DEFAULT_CAPACITY) keys).
    pub fn builder(quota: Quota) -> LimiterBuilder<DefaultClock> {
        LimiterBuilder::new(quota)
    }
}

impl<C: Clock, S: StateStore> Limiter<C, S> {
    pub(crate) fn from_parts(params: Params, quota: Quota, clock: C, store: S) -> Self {
        Self {
            params: LiveParams::new(params, &quota),
            clock,
            store,
            counters: Counters::default(),
            id: ahash::RandomState::new().hash_one(0x7469_6572_u64),
        }
    }

    /// Checks one request (cost 1) for `key` and consumes quota if it is allowed.
    #[inline]
    pub fn check<K: Hash + ?Sized>(&self, key: &K) -> Decision {
        self.decide(key, self.clock.now(), 1)
    }

    /// Checks a request of cost `n` for `key`, all or nothing; see
    /// [`DirectLimiter::check_n`](crate::DirectLimiter::check_n).
    #[inline]
    pub fn check_n<K: Hash + ?Sized>(
        &self,
        key: &K,
        n: u32,
    ) -> Result<Decision, InsufficientCapacity> {
        let p = self.params.load();
        Ok(
            match p.cost(n).map_err(|max| InsufficientCapacity::new(n, max))? {
                Some(cost) => self.decide_with(&p, key, self.clock.now(), cost),
                None => self.peek(key),
            },
        )
    }

    /// The decision `check(key)` would give now, without consuming anything (or
    /// claiming room for a new key).
    pub fn peek<K: Hash + ?Sized>(&self, key: &K) -> Decision {
        let p = self.params.load();
        let now = self.clock.now();
        if p.algorithm == Algorithm::SlidingWindowLog {
            return self.log(&p, key, now, 1, LogMode::Peek);
        }
        let state = self.store.state(key).unwrap_or(0);
        p.decide_word(state, now, 1).1
    }

    /// The decision `check_n(key, n)` would give now, without consuming anything
    /// (or claiming room for a new key); errors as `check_n` does.
    pub fn peek_n<K: Hash + ?Sized>(
        &self,
        key: &K,
        n: u32,
    ) -> Result<Decision, InsufficientCapacity> {
        let p = self.params.load();
        let Some(cost) = p.cost(n).map_err(|max| InsufficientCapacity::new(n, max))? else {
            return Ok(self.peek(key));
        };
        let now = self.clock.now();
        if p.algorithm == Algorithm::SlidingWindowLog {
            return Ok(self.log(&p, key, now, cost, LogMode::Peek));
        }
        let state = self.store.state(key).unwrap_or(0);
        Ok(p.decide_word(state, now, cost).1)
    }

    /// Forgets `key`: its full quota is available again, and its room is free.
    pub fn reset<K: Hash + ?Sized>(&self, key: &K) {
        self.store.forget(key);
    }

    /// Checks admitted and denied, and keys evicted, since build.
    pub fn stats(&self) -> Stats {
        self.counters.total()
    }

    /// The quota every key gets.
    pub fn quota(&self) -> Quota {
        self.params.load_with_quota().1
    }

    /// Enforces `quota` for every key from the next check on, without a pause and
    /// without touching the keys' states, which keep their meaning; see
    /// [`DirectLimiter::set_quota`](crate::DirectLimiter::set_quota) for what that
    /// means per algorithm and which quotas are refused.
    ///
    /// ```
    /// use ratecell::{Limiter, ManualClock, Quota};
    ///
    /// let lim = Limiter::builder(Quota::per_second(2)?).clock(ManualClock::new()).build()?;
    /// assert!(lim.check("a").is_allowed());
    /// assert!(lim.check("a").is_allowed());
    /// assert!(!lim.check("a").is_allowed());
    /// lim.set_quota(Quota::per_second(2)?.with_burst(3)?)?;
    /// assert!(lim.check("a").is_allowed()); // the debt stays; the bucket is larger
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_quota(&self, quota: Quota) -> Result<(), BuildError> {
        self.params.replace(&quota).map_err(BuildError::from)
    }

    /// The algorithm this limiter runs.
    pub fn algorithm(&self) -> Algorithm {
        self.params.algorithm()
    }

    /// The limiter's clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The store holding the keys' states.
    pub fn store(&self) -> &S {
        &self.store
    }

    #[inline(always)]
    pub(crate) fn decide<K: Hash + ?Sized>(&self, key: &K, now: Nanos, cost: u64) -> Decision {
        self.decide_with(&self.params.load(), key, now, cost)
    }

    #[inline(always)]
    pub(crate) fn decide_with<K: Hash + ?Sized>(
        &self,
        p: &Params,
        key: &K,
        now: Nanos,
        cost: u64,
    ) -> Decision {
        // As for `DirectLimiter`: the token bucket, the default and the hot case,
        // inline in the caller, on a path of its own (so that a caller that reads
        // only the verdict makes only the verdict); the others out of line.
        if p.algorithm == Algorithm::TokenBucket {
            let d = self.run::<Gcra, K>(p, key, now, cost);
            self.counters.count(d.allowed);
            return d;
        }
        self.decide_other(p, key, now, cost)
    }

    #[inline(never)]
    fn decide_other<K: Hash + ?Sized>(
        &self,
        p: &Params,
        key: &K,
        now: Nanos,
        cost: u64,
    ) -> Decision {
        let d = match p.algorithm {
            Algorithm::TokenBucket | Algorithm::LeakyBucket => {
                self.run::<Gcra, K>(p, key, now, cost)
            }
            Algorithm::FixedWindow => self.run::<Fixed, K>(p, key, now, cost),
            Algorithm::SlidingWindowCounter => self.run::<Counter, K>(p, key, now, cost),
            _ => self.log(p, key, now, cost, LogMode::Check),
        };
        self.counters.count(d.allowed);
        d
    }

    #[inline(never)]
    fn log<K: Hash + ?Sized>(
        &self,
        p: &Params,
        key: &K,
        now: Nanos,
        cost: u64,
        mode: LogMode,
    ) -> Decision {
        // The builder only builds the log on stores that keep logs.
        let Some(logs) = self.store.keyed_logs() else {
            return p.blank_decision(false);
        };
        let (d, evicted) = logs.check(key, p, now, cost, mode);
        if evicted > 0 {
            self.counters.evicted(evicted);
        }
        d
    }

    #[inline(always)]
    fn run<A: WordAlgorithm, K: Hash + ?Sized>(
        &self,
        p: &Params,
        key: &K,
        now: Nanos,
        cost: u64,
    ) -> Decision {
        let expires = |s| A::expires_at(p, s);
        match self
            .store
            .transition(key, now, expires, move |s| A::admit(p, s, now, cost))
        {
            Transition::Ran { seen, evicted } => {
                if evicted > 0 {
                    self.counters.evicted(evicted);
                }
                A::decide(p, seen, now, cost).1
            }
            Transition::Full { free_at } => full_decision(p, free_at, now),
        }
    }
}

/// The state change a stacked check may have to give back: `[before, after]`.
pub(crate) type Undo = Option<[u64; 2]>;

impl<C: Clock, S: StateStore> Limiter<C, S> {
    /// `peek_n` at a given `now`, under given parameters (for stacks: one clock
    /// reading for every quota).
    pub(crate) fn peek_at<K: Hash + ?Sized>(
        &self,
        p: &Params,
        key: &K,
        now: Nanos,
        cost: u64,
    ) -> Decision {
        if p.algorithm == Algorithm::SlidingWindowLog {
            return self.log(p, key, now, cost, LogMode::Peek);
        }
        let state = self.store.state(key).unwrap_or(0);
        p.decide_word(state, now, cost).1
    }

    /// A check that says how to give it back ([`undo`](Self::undo)): for stacks.
    /// The log's admissions cannot be given back (`None`).
    #[inline(always)]
    pub(crate) fn check_undoable<K: Hash + ?Sized>(
        &self,
        p: &Params,
        key: &K,
        now: Nanos,
        cost: u64,
    ) -> (Decision, Undo) {
        // The token bucket, the default, inline in the stack's loop as in a plain
        // check; the others out of line.
        if p.algorithm == Algorithm::TokenBucket {
            return self.run_undoable::<Gcra, K>(p, key, now, cost);
        }
        self.check_undoable_other(p, key, now, cost)
    }

    #[inline(never)]
    fn check_undoable_other<K: Hash + ?Sized>(
        &self,
        p: &Params,
        key: &K,
        now: Nanos,
        cost: u64,
    ) -> (Decision, Undo) {
        if p.algorithm == Algorithm::SlidingWindowLog {
            let d = self.log(p, key, now, cost, LogMode::Check);
            self.counters.count(d.allowed);
            return (d, None);
        }
        match p.algorithm {
            Algorithm::TokenBucket | Algorithm::LeakyBucket => {
                self.run_undoable::<Gcra, K>(p, key, now, cost)
            }
            Algorithm::FixedWindow => self.run_undoable::<Fixed, K>(p, key, now, cost),
            _ => self.run_undoable::<Counter, K>(p, key, now, cost),
        }
    }

    #[inline(always)]
    fn run_undoable<A: WordAlgorithm, K: Hash + ?Sized>(
        &self,
        p: &Params,
        key: &K,
        now: Nanos,
        cost: u64,
    ) -> (Decision, Undo) {
        let expires = |s| A::expires_at(p, s);
        match self
            .store
            .transition(key, now, expires, |s| A::admit(p, s, now, cost))
        {
            Transition::Ran { seen, evicted } => {
                if evicted > 0 {
                    self.counters.evicted(evicted);
                }
                let (next, d) = A::decide(p, seen, now, cost);
                self.counters.count(d.allowed);
                (d, next.map(|after| [seen, after]))
            }
            Transition::Full { free_at } => {
                self.counters.count(false);
                (full_decision(p, free_at, now), None)
            }
        }
    }

    /// Gives back an admission of [`check_undoable`](Self::check_undoable) where
    /// the algorithm can do so exactly (`algorithm::refund`).
    pub(crate) fn undo<K: Hash + ?Sized>(
        &self,
        p: &Params,
        key: &K,
        now: Nanos,
        cost: u64,
        [before, after]: [u64; 2],
    ) {
        let expires = |s| p.word_expires_at(s);
        let _ = self.store.transition(key, now, expires, |s| {
            crate::algorithm::refund::refund(p, s, before, after, now, cost)
        });
    }
}

/// The decision for a new key that found no room.
fn full_decision(p: &Params, free_at: Nanos, now: Nanos) -> Decision {
    let mut d = p.blank_decision(false);
    d.retry_after = free_at.saturating_sub(now).max(1);
    d.reset_after = d.retry_after;
    d
}

impl<C: Clock> Limiter<C, MemoryStore<C>> {
    /// Keys with live state right now (an O(capacity) scan; approximate while
    /// other threads check).
    pub fn len(&self) -> usize {
        let p = &self.params.load();
        self.store
            .table()
            .live(self.clock.now(), |s| p.word_expires_at(s))
    }

    /// Whether no key has live state.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every key whose state has expired (they are otherwise reclaimed
    /// lazily, by the next new key that needs the room); returns how many.
    pub fn purge_expired(&self) -> usize {
        let p = &self.params.load();
        self.store
            .table()
            .purge_expired(self.clock.now(), |s| p.word_expires_at(s))
    }

    /// The number of live keys the limiter was built to hold.
    pub fn capacity(&self) -> usize {
        self.store.capacity()
    }

    /// Bytes the limiter allocated (table and counters); fixed at build.
    pub fn memory_bytes(&self) -> usize {
        self.store.memory_bytes() + self.counters.bytes() + core::mem::size_of::<Self>()
    }
}
