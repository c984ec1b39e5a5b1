//! Per-key quotas: tiers (a free and a paid plan) sharing one keyed limiter's
//! table, the quota chosen per check by a precompiled handle.

use crate::algorithm::{Algorithm, Params};
use crate::clock::Clock;
use crate::decision::Decision;
use crate::error::{BuildError, InsufficientCapacity};
use crate::limiter::Limiter;
use crate::quota::Quota;
use crate::store::StateStore;
use core::fmt;
use core::hash::Hash;

/// A quota compiled for one keyed [`Limiter`]: made by [`Limiter::tier`], passed
/// to [`Limiter::check_with`]. Checking it costs what a plain check does (the
/// parameters are precompiled; nothing is allocated or locked).
///
/// Tiers share the limiter's table, capacity, clock and algorithm, and the
/// limiter's state encoding, which is why a window algorithm's tier must keep the
/// limiter's period. A key has one state whatever tier checks it: a key that
/// moves to another tier keeps what it used, as under
/// [`set_quota`](Limiter::set_quota). A tier does not follow `set_quota`: it keeps
/// its own quota.
///
/// Snapshots save and restore every key under the limiter's own quota, clamping
/// what that quota could not have produced: build the limiter with the most
/// generous quota (and give the other plans tiers), so that no key's state is
/// cut on a save or a restore.
///
/// ```
/// use ratecell::{Limiter, ManualClock, Quota};
///
/// let lim = Limiter::builder(Quota::per_minute(2)?).clock(ManualClock::new()).build()?;
/// let free = lim.tier(Quota::per_minute(2)?)?;
/// let paid = lim.tier(Quota::per_minute(5)?)?;
/// let plan = |user: &str| if user.starts_with("pro-") { &paid } else { &free };
///
/// let admitted = |user: &str| {
///     (0..10).filter(|_| lim.check_with(plan(user), user).unwrap().is_allowed()).count()
/// };
/// assert_eq!(admitted("alice"), 2);
/// assert_eq!(admitted("pro-bob"), 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tier {
    params: Params,
    quota: Quota,
    owner: u64,
}

impl Tier {
    /// The tier's quota.
    pub fn quota(&self) -> Quota {
        self.quota
    }
}

/// Why a check with a [`Tier`] could not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TierError {
    /// The tier was made by another limiter (whose states mean something else).
    Foreign,
    /// The cost can never fit the tier's quota.
    Cost(InsufficientCapacity),
}

impl fmt::Display for TierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Foreign => write!(f, "the tier belongs to another limiter"),
            Self::Cost(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for TierError {}

impl From<InsufficientCapacity> for TierError {
    fn from(e: InsufficientCapacity) -> Self {
        Self::Cost(e)
    }
}

impl<C: Clock, S: StateStore> Limiter<C, S> {
    /// Compiles `quota` into a [`Tier`] of this limiter.
    ///
    /// # Errors
    ///
    /// What [`set_quota`](Self::set_quota) would refuse (a window algorithm's tier
    /// keeps the limiter's period), and
    /// [`BuildError::TierUnsupported`] for the sliding-window log, whose per-key
    /// logs are sized and expired by the limiter's own quota.
    pub fn tier(&self, quota: Quota) -> Result<Tier, BuildError> {
        if self.params.algorithm() == Algorithm::SlidingWindowLog {
            return Err(BuildError::TierUnsupported(Algorithm::SlidingWindowLog));
        }
        Ok(Tier {
            params: self.params.base().retune(&quota)?,
            quota,
            owner: self.id,
        })
    }

    fn own<'t>(&self, tier: &'t Tier) -> Result<&'t Params, TierError> {
        if tier.owner == self.id {
            Ok(&tier.params)
        } else {
            Err(TierError::Foreign)
        }
    }

    /// [`check`](Self::check) under `tier`'s quota.
    ///
    /// # Errors
    ///
    /// [`TierError::Foreign`] for another limiter's tier.
    #[inline]
    pub fn check_with<K: Hash + ?Sized>(
        &self,
        tier: &Tier,
        key: &K,
    ) -> Result<Decision, TierError> {
        let p = self.own(tier)?;
        Ok(self.decide_with(p, key, self.clock.now(), 1))
    }

    /// [`check_n`](Self::check_n) under `tier`'s quota.
    ///
    /// # Errors
    ///
    /// [`TierError::Foreign`] for another limiter's tier, `Cost` if `n` can never
    /// fit the tier's quota.
    pub fn check_n_with<K: Hash + ?Sized>(
        &self,
        tier: &Tier,
        key: &K,
        n: u32,
    ) -> Result<Decision, TierError> {
        let p = self.own(tier)?;
        let cost = p.cost(n).map_err(|max| InsufficientCapacity::new(n, max))?;
        let now = self.clock.now();
        Ok(match cost {
            Some(cost) => self.decide_with(p, key, now, cost),
            None => self.peek_at(p, key, now, 1),
        })
    }

    /// [`peek`](Self::peek) under `tier`'s quota.
    ///
    /// # Errors
    ///
    /// [`TierError::Foreign`] for another limiter's tier.
    pub fn peek_with<K: Hash + ?Sized>(&self, tier: &Tier, key: &K) -> Result<Decision, TierError> {
        let p = self.own(tier)?;
        Ok(self.peek_at(p, key, self.clock.now(), 1))
    }

    /// [`peek_n`](Self::peek_n) under `tier`'s quota.
    ///
    /// # Errors
    ///
    /// As [`check_n_with`](Self::check_n_with).
    pub fn peek_n_with<K: Hash + ?Sized>(
        &self,
        tier: &Tier,
        key: &K,
        n: u32,
    ) -> Result<Decision, TierError> {
        let p = self.own(tier)?;
        let cost = p.cost(n).map_err(|max| InsufficientCapacity::new(n, max))?;
        Ok(self.peek_at(p, key, self.clock.now(), cost.unwrap_or(1)))
    }
}
