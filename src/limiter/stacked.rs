//! `StackedLimiter`: several quotas on one key space, `"10/second; 1000/day"`,
//! checked all or nothing.

use crate::algorithm::Algorithm;
use crate::clock::{Clock, DefaultClock, Nanos};
use crate::decision::Decision;
use crate::error::{BuildError, InsufficientCapacity};
use crate::limiter::builder::DEFAULT_CAPACITY;
use crate::limiter::keyed::Undo;
use crate::limiter::Limiter;
use crate::quota::Quota;
use crate::table::FullPolicy;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::hash::Hash;

/// The most quotas one stack holds.
pub const MAX_STACK: usize = 8;

/// A keyed limiter enforcing several quotas at once: a request is admitted only
/// if every quota admits it, and a request one quota denies consumes from none.
///
/// Each quota has its own table (its own capacity's worth of memory). A check
/// reads the clock once, peeks the quotas between the first and the last (the
/// log's last too), then checks them in order; if a quota denies after earlier
/// ones admitted (its own state, or another thread got there first), those give
/// the request back where their algorithm can do so exactly (window counts
/// always; a bucket if no admission came after it; a sliding-window log never,
/// which is why its quotas are peeked). So under contention the stack may admit
/// less than each quota alone would; it never admits more than any of them.
///
/// The [`Decision`] is the deciding quota's, and
/// [`quota_index`](Decision::quota_index) says which: of the denying quotas, the
/// one that denies longest; when allowed, the one with the fewest requests left.
///
/// ```
/// use ratecell::{ManualClock, Quota, StackedLimiter};
///
/// let lim = StackedLimiter::builder(Quota::parse_stack("2/second; 3/minute")?)
///     .clock(ManualClock::new())
///     .build()?;
/// assert!(lim.check("k").is_allowed());
/// assert!(lim.check("k").is_allowed());
/// let d = lim.check("k"); // the per-second quota is spent
/// assert!(!d.is_allowed());
/// assert_eq!(d.quota_index(), 0);
/// lim.clock().advance(std::time::Duration::from_secs(1));
/// assert!(lim.check("k").is_allowed());
/// let d = lim.check("k"); // now the per-minute one
/// assert_eq!((d.is_allowed(), d.quota_index()), (false, 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct StackedLimiter<C = DefaultClock> {
    members: Box<[Limiter<C>]>,
    quotas: Box<[Quota]>,
    /// Whether the last quota is peeked too (the log gives nothing back).
    peek_last: bool,
}

impl<C> core::fmt::Debug for StackedLimiter<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StackedLimiter")
            .field("quotas", &self.quotas)
            .finish_non_exhaustive()
    }
}

/// Configures a [`StackedLimiter`]; made by [`StackedLimiter::builder`].
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until .build()"]
pub struct StackedBuilder<C> {
    quotas: Vec<Quota>,
    algorithm: Algorithm,
    capacity: usize,
    policy: FullPolicy,
    clock: C,
}

impl StackedLimiter {
    /// Starts configuring a stack of `quotas` (token bucket, default clock,
    /// [`DEFAULT_CAPACITY`] keys per quota), for example
    /// `StackedLimiter::builder(Quota::parse_stack("10/s; 1000/day")?)`.
    pub fn builder(quotas: impl IntoIterator<Item = Quota>) -> StackedBuilder<DefaultClock> {
        StackedBuilder {
            quotas: quotas.into_iter().collect(),
            algorithm: Algorithm::default(),
            capacity: DEFAULT_CAPACITY,
            policy: FullPolicy::default(),
            clock: DefaultClock::default(),
        }
    }
}

impl<C> StackedBuilder<C> {
    /// The algorithm every quota runs (default: [`Algorithm::TokenBucket`]).
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Live keys each quota's table holds (default [`DEFAULT_CAPACITY`]).
    pub fn capacity(mut self, keys: usize) -> Self {
        self.capacity = keys;
        self
    }

    /// What a new key does when its quota's table has no room.
    pub fn full_policy(mut self, policy: FullPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The clock every quota reads (default: [`DefaultClock`]).
    pub fn clock<C2: Clock + Clone>(self, clock: C2) -> StackedBuilder<C2> {
        StackedBuilder {
            quotas: self.quotas,
            algorithm: self.algorithm,
            capacity: self.capacity,
            policy: self.policy,
            clock,
        }
    }
}

impl<C: Clock + Clone> StackedBuilder<C> {
    /// Validates every quota and builds one table per quota.
    ///
    /// # Errors
    ///
    /// [`BuildError::StackSize`] for no quota or more than [`MAX_STACK`]; any
    /// quota's own build error otherwise.
    pub fn build(self) -> Result<StackedLimiter<C>, BuildError> {
        if self.quotas.is_empty() || self.quotas.len() > MAX_STACK {
            return Err(BuildError::StackSize(self.quotas.len()));
        }
        let members = self
            .quotas
            .iter()
            .map(|&q| {
                Limiter::builder(q)
                    .algorithm(self.algorithm)
                    .capacity(self.capacity)
                    .full_policy(self.policy)
                    .clock(self.clock.clone())
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(StackedLimiter {
            members: members.into_boxed_slice(),
            quotas: self.quotas.into_boxed_slice(),
            peek_last: self.algorithm == Algorithm::SlidingWindowLog,
        })
    }
}

/// The more telling of two decisions: a denial over an admission, the longer
/// denial, or the admission with fewer left.
#[inline]
fn tells_more(new: &Decision, old: &Decision) -> bool {
    match (new.allowed, old.allowed) {
        (false, true) => true,
        (true, false) => false,
        (false, false) => new.retry_after > old.retry_after,
        // Fewer left: `min(limit, num / unit)` compared exactly, without dividing.
        (true, true) => {
            left(new) * u128::from(old.remaining_unit.max(1))
                < left(old) * u128::from(new.remaining_unit.max(1))
        }
    }
}

/// `min(limit·unit, num)`: the requests left, in units of `remaining_unit`.
#[inline]
fn left(d: &Decision) -> u128 {
    let unit = u128::from(d.remaining_unit.max(1));
    (u128::from(d.limit) * unit).min(u128::from(d.remaining_num))
}

fn at(mut d: Decision, i: usize) -> Decision {
    // At most MAX_STACK quotas: the index fits.
    d.quota_index = i as u8;
    d
}

impl<C: Clock> StackedLimiter<C> {
    /// The quotas, in the order they are checked.
    pub fn quotas(&self) -> &[Quota] {
        &self.quotas
    }

    /// The clock the quotas read.
    pub fn clock(&self) -> &C {
        self.members[0].clock()
    }

    /// Checks one request for `key` against every quota, all or nothing.
    #[inline]
    pub fn check<K: Hash + ?Sized>(&self, key: &K) -> Decision {
        self.decide(key, 1, true)
    }

    /// Checks a request of cost `n`, all or nothing; `Err` if some quota can never
    /// admit it (its `max` is that quota's).
    pub fn check_n<K: Hash + ?Sized>(
        &self,
        key: &K,
        n: u32,
    ) -> Result<Decision, InsufficientCapacity> {
        Ok(match self.cost(n)? {
            Some(cost) => self.decide(key, cost, true),
            None => self.decide(key, 1, false),
        })
    }

    /// The decision `check` would give, consuming nothing.
    pub fn peek<K: Hash + ?Sized>(&self, key: &K) -> Decision {
        self.decide(key, 1, false)
    }

    /// The decision `check_n(key, n)` would give, consuming nothing.
    pub fn peek_n<K: Hash + ?Sized>(
        &self,
        key: &K,
        n: u32,
    ) -> Result<Decision, InsufficientCapacity> {
        let cost = self.cost(n)?.unwrap_or(1);
        Ok(self.decide(key, cost, false))
    }

    /// Forgets `key` under every quota.
    pub fn reset<K: Hash + ?Sized>(&self, key: &K) {
        for m in self.members.iter() {
            m.reset(key);
        }
    }

    /// The quota at `index` (as [`quota_index`](Decision::quota_index) names it).
    pub fn limiter(&self, index: usize) -> Option<&Limiter<C>> {
        self.members.get(index)
    }

    fn cost(&self, n: u32) -> Result<Option<u64>, InsufficientCapacity> {
        let mut cost = None;
        for m in self.members.iter() {
            cost = m
                .params
                .load()
                .cost(n)
                .map_err(|max| InsufficientCapacity::new(n, max))?;
        }
        Ok(cost)
    }

    #[inline]
    fn decide<K: Hash + ?Sized>(&self, key: &K, cost: u64, consume: bool) -> Decision {
        let now = self.members[0].clock.now();
        if !consume {
            return self.peek_range(key, now, cost, 0, self.members.len());
        }
        // Peek the quotas between the first and the last: a denial there consumes
        // nothing. The first needs no peek (its check is all or nothing and
        // nothing was taken before it); a denial by the last is given back
        // exactly when sequential. The log gives nothing back: peek its last too.
        let last = self.members.len() - 1;
        let peek_to = last + usize::from(self.peek_last);
        if peek_to > 1 {
            let d = self.peek_range(key, now, cost, 1, peek_to);
            if !d.allowed {
                return d;
            }
        }
        let mut undo: [Undo; MAX_STACK] = [None; MAX_STACK];
        let mut told: Option<Decision> = None;
        for (i, m) in self.members.iter().enumerate() {
            let (d, u) = m.check_undoable(&m.params.load(), key, now, cost);
            let d = at(d, i);
            if !d.allowed {
                return self.denied(key, now, cost, i, d, &undo);
            }
            undo[i] = u;
            if told.as_ref().is_none_or(|t| tells_more(&d, t)) {
                told = Some(d);
            }
        }
        told.unwrap_or_else(|| self.members[0].params.load().blank_decision(true))
    }

    /// Quota `i` denied with `d`: gives back what the earlier quotas admitted and
    /// says the longest denial (out of the admitting path's way).
    #[cold]
    #[inline(never)]
    fn denied<K: Hash + ?Sized>(
        &self,
        key: &K,
        now: Nanos,
        cost: u64,
        i: usize,
        d: Decision,
        undo: &[Undo; MAX_STACK],
    ) -> Decision {
        // (A refund reads only the encoding, which set_quota never changes.)
        for (m, u) in self.members.iter().zip(undo).take(i) {
            if let Some(u) = *u {
                m.undo(&m.params.load(), key, now, cost, u);
            }
        }
        // The later quotas may deny for longer: say the longest.
        let later = self.peek_range(key, now, cost, i + 1, self.members.len());
        if tells_more(&later, &d) {
            later
        } else {
            d
        }
    }

    /// The most telling peek of quotas `from..to`; an allowed blank if none.
    fn peek_range<K: Hash + ?Sized>(
        &self,
        key: &K,
        now: Nanos,
        cost: u64,
        from: usize,
        to: usize,
    ) -> Decision {
        let mut told: Option<Decision> = None;
        for (i, m) in self.members.iter().enumerate().take(to).skip(from) {
            let d = at(m.peek_at(&m.params.load(), key, now, cost), i);
            if told.as_ref().is_none_or(|t| tells_more(&d, t)) {
                told = Some(d);
            }
        }
        told.unwrap_or_else(|| self.members[0].params.load().blank_decision(true))
    }
}
