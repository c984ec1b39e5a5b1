//! The rate-limiting algorithms, as pure state machines.
//!
//! Each algorithm is a function `(params, state, now, cost) -> (new state, decision)`
//! over a packed state. None of them touches an atomic: the cell that stores the
//! state runs the function inside its compare-exchange loop, which is why the
//! functions must be pure (a retried CAS calls them again). `None` as the new state
//! means "deny": a denied request changes nothing.
//!
//! Times earlier than what a state records are treated as no time having passed, so
//! a clock set backwards never refills a quota; and every function is total: no
//! input, however corrupt, makes it overflow or panic.

pub(crate) mod fixed_window;
pub(crate) mod gcra;
pub(crate) mod rebase;
pub(crate) mod refund;
pub(crate) mod reserve;
pub(crate) mod sliding_counter;
pub(crate) mod sliding_log;

use crate::clock::Nanos;
use crate::decision::Decision;
use crate::quota::Quota;

/// Which algorithm a limiter runs. All five share one [`Quota`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
#[non_exhaustive]
pub enum Algorithm {
    /// GCRA: a token bucket of `burst` tokens refilled one per emission interval.
    /// One 8-byte word per key; smooth; the default.
    #[default]
    TokenBucket,
    /// The same admission as the token bucket, but admitted requests are told to
    /// wait ([`Decision::delay`]) so that they leave exactly one interval apart:
    /// traffic shaping, like nginx `limit_req` without `nodelay`.
    LeakyBucket,
    /// `limit` requests per window `[k·P, (k+1)·P)` of the timeline. Cheapest to
    /// explain; allows up to 2× the limit across a window boundary.
    FixedWindow,
    /// Exact: at most `limit` in any trailing period. Stores one timestamp per
    /// admitted unit (8 bytes × limit per key), so it suits small limits.
    SlidingWindowLog,
    /// Weights the previous window's count by how much of it still overlaps the
    /// trailing period: nearly as smooth as the log at the cost of a fixed window.
    SlidingWindowCounter,
}

impl Algorithm {
    /// Every algorithm, in declaration order.
    pub const ALL: [Algorithm; 5] = [
        Algorithm::TokenBucket,
        Algorithm::LeakyBucket,
        Algorithm::FixedWindow,
        Algorithm::SlidingWindowLog,
        Algorithm::SlidingWindowCounter,
    ];

    /// Whether the state fits one 64-bit word (all but the log).
    pub(crate) fn is_word(self) -> bool {
        self != Algorithm::SlidingWindowLog
    }

    fn is_window(self) -> bool {
        matches!(
            self,
            Algorithm::FixedWindow | Algorithm::SlidingWindowLog | Algorithm::SlidingWindowCounter
        )
    }
}

/// A one-word algorithm, split for speed into the admission step alone (run inside
/// a cell's compare-exchange loop, where every instruction counts and may run twice)
/// and the full decision (built once, afterwards, from the state the winning attempt
/// saw). Both are pure, so `decide(state).0 == admit(state)` and the decision built
/// afterwards is exactly the one the admission made.
pub(crate) trait WordAlgorithm {
    fn admit(p: &Params, state: u64, now: Nanos, cost: u64) -> Option<u64>;
    fn decide(p: &Params, state: u64, now: Nanos, cost: u64) -> (Option<u64>, Decision);
    /// The first moment the state means the same as no state at all.
    fn expires_at(p: &Params, state: u64) -> Nanos;
}

/// Token bucket and leaky bucket ([`gcra`]).
pub(crate) struct Gcra;
/// [`fixed_window`].
pub(crate) struct Fixed;
/// [`sliding_counter`].
pub(crate) struct Counter;

impl WordAlgorithm for Gcra {
    #[inline(always)]
    fn admit(p: &Params, state: u64, now: Nanos, cost: u64) -> Option<u64> {
        gcra::admit(p, state, now, cost)
    }
    #[inline(always)]
    fn decide(p: &Params, state: u64, now: Nanos, cost: u64) -> (Option<u64>, Decision) {
        gcra::decide(p, state, now, cost)
    }
    #[inline]
    fn expires_at(_: &Params, state: u64) -> Nanos {
        state
    }
}

impl WordAlgorithm for Fixed {
    #[inline(always)]
    fn admit(p: &Params, state: u64, now: Nanos, cost: u64) -> Option<u64> {
        fixed_window::decide(p, state, now, cost).0
    }
    #[inline]
    fn decide(p: &Params, state: u64, now: Nanos, cost: u64) -> (Option<u64>, Decision) {
        fixed_window::decide(p, state, now, cost)
    }
    #[inline]
    fn expires_at(p: &Params, state: u64) -> Nanos {
        fixed_window::expires_at(p, state)
    }
}

impl WordAlgorithm for Counter {
    #[inline(always)]
    fn admit(p: &Params, state: u64, now: Nanos, cost: u64) -> Option<u64> {
        sliding_counter::decide(p, state, now, cost).0
    }
    #[inline]
    fn decide(p: &Params, state: u64, now: Nanos, cost: u64) -> (Option<u64>, Decision) {
        sliding_counter::decide(p, state, now, cost)
    }
    #[inline]
    fn expires_at(p: &Params, state: u64) -> Nanos {
        sliding_counter::expires_at(p, state)
    }
}

/// Largest limit [`Algorithm::SlidingWindowLog`] accepts: 65,535 timestamps
/// (512 KiB) per key.
pub const MAX_LOG_LIMIT: u32 = u16::MAX as u32;

/// A quota compiled for one algorithm: everything the hot path needs, precomputed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Params {
    pub algorithm: Algorithm,
    /// `L`
    pub limit: u64,
    /// `P`
    pub period: Nanos,
    /// `B` (equals `L` for the window algorithms)
    pub burst: u64,
    /// `T = P / L`
    pub t: Nanos,
    /// `tau = T·(B-1)`
    pub tau: Nanos,
    /// The radix of the packed window states: `L + 1` for a quota's canonical
    /// encoding (a snapshot file's), the largest radix the period allows for a
    /// live limiter's (so that `set_quota` can change `L` without re-encoding).
    pub radix: u64,
    /// The sliding-window log's ring length (`>= L`; fixed at build); `L` otherwise.
    pub ring: u64,
    /// The span the limit applies to, for `RateLimit-Policy`.
    pub window: Nanos,
}

/// Why a quota cannot run under an algorithm (the builder reports it as a
/// `BuildError`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unfit {
    /// The window algorithms take no burst.
    BurstOnWindow(Algorithm),
    /// The packed state cannot hold the quota's numbers.
    TooLarge(Algorithm),
    /// A window algorithm numbers its windows by the period, which a running
    /// limiter cannot change.
    PeriodChange(Algorithm),
}

/// The largest radix `R` with `windows · R^digits <= 2^64`, where `windows` is the
/// number of windows of `period` below 2^63 ns: every packed state then fits.
fn max_radix(period: Nanos, digits: u32) -> u64 {
    let windows = u128::from((i64::MAX as u64) / period) + 1;
    let room = (1u128 << 64) / windows;
    if digits == 1 {
        return room.min(u128::from(u64::MAX)) as u64;
    }
    // The integer square root of `room` (< 2^64), by bisection: a cold path.
    let (mut lo, mut hi) = (1u128, 1u128 << 32);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if mid * mid <= room {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo as u64
}

impl Params {
    pub(crate) fn new(algorithm: Algorithm, quota: &Quota) -> Result<Self, Unfit> {
        if algorithm.is_window() && quota.has_explicit_burst() {
            return Err(Unfit::BurstOnWindow(algorithm));
        }
        let limit = u64::from(quota.limit());
        let period = quota.period_nanos();
        let t = quota.emission_nanos();
        let burst = u64::from(quota.burst());
        let radix = limit + 1;
        // Windows are numbered k = now / P for every now < 2^63; the packed state is
        // k·R + count (fixed) or (k·R + prev)·R + cur (counter) and must fit 64 bits.
        let windows = u128::from((i64::MAX as u64) / period) + 1;
        let fits = |digits: u32| windows * u128::from(radix).pow(digits) <= 1u128 << 64;
        match algorithm {
            Algorithm::FixedWindow if !fits(1) => return Err(Unfit::TooLarge(algorithm)),
            Algorithm::SlidingWindowCounter if !fits(2) => return Err(Unfit::TooLarge(algorithm)),
            Algorithm::SlidingWindowLog if quota.limit() > MAX_LOG_LIMIT => {
                return Err(Unfit::TooLarge(algorithm))
            }
            _ => {}
        }
        let window = if algorithm.is_window() {
            period
        } else {
            t * burst
        };
        Ok(Self {
            algorithm,
            limit,
            period,
            burst,
            t,
            tau: t * (burst - 1),
            radix,
            ring: limit,
            window,
        })
    }

    /// `new`, with the window states' radix widened to the largest the period
    /// allows: what a limiter runs, so that a later [`retune`](Self::retune) keeps
    /// every stored state's meaning.
    pub(crate) fn live(algorithm: Algorithm, quota: &Quota) -> Result<Self, Unfit> {
        let mut p = Self::new(algorithm, quota)?;
        match algorithm {
            Algorithm::FixedWindow => p.radix = max_radix(p.period, 1),
            Algorithm::SlidingWindowCounter => p.radix = max_radix(p.period, 2),
            _ => {}
        }
        Ok(p)
    }

    /// These live parameters with `quota` instead: what `set_quota` installs. The
    /// state encoding stays (radix, period of the windows, the log's ring), so
    /// every stored state keeps its meaning; a quota that encoding cannot hold is
    /// the error a build would give, and a window algorithm refuses a new period.
    pub(crate) fn retune(&self, quota: &Quota) -> Result<Self, Unfit> {
        let mut p = Self::new(self.algorithm, quota)?;
        match self.algorithm {
            Algorithm::FixedWindow | Algorithm::SlidingWindowCounter => {
                if p.period != self.period {
                    return Err(Unfit::PeriodChange(self.algorithm));
                }
                // Same period, same largest radix: `new` checked that L + 1 fits it.
                p.radix = self.radix;
            }
            Algorithm::SlidingWindowLog => {
                if p.limit > self.ring {
                    return Err(Unfit::TooLarge(self.algorithm));
                }
                p.ring = self.ring;
            }
            _ => {}
        }
        Ok(p)
    }

    /// A requested cost, checked: `Ok(None)` for 0 (a peek), `Err(max)` if it can
    /// never be admitted.
    pub(crate) fn cost(&self, n: u32) -> Result<Option<u64>, u32> {
        let max = self.max_cost();
        match u64::from(n) {
            0 => Ok(None),
            c if c > max => Err(max as u32),
            c => Ok(Some(c)),
        }
    }

    /// The largest cost that can ever be admitted.
    pub(crate) fn max_cost(&self) -> u64 {
        if self.algorithm.is_window() {
            self.limit
        } else {
            self.burst
        }
    }

    /// Decides a request of `cost` (1 ..= max_cost) against a one-word state,
    /// dispatching on the algorithm (for cold paths: peek, snapshots, models).
    pub(crate) fn decide_word(&self, state: u64, now: Nanos, cost: u64) -> (Option<u64>, Decision) {
        match self.algorithm {
            Algorithm::TokenBucket | Algorithm::LeakyBucket => gcra::decide(self, state, now, cost),
            Algorithm::FixedWindow => fixed_window::decide(self, state, now, cost),
            Algorithm::SlidingWindowCounter => sliding_counter::decide(self, state, now, cost),
            // The log never lives in a word; answer "deny" rather than panic.
            Algorithm::SlidingWindowLog => (None, self.blank_decision(false)),
        }
    }

    /// The first moment at which a one-word state means the same as no state at all
    /// (the store may then forget it).
    #[allow(dead_code)] // used by the keyed store
    pub(crate) fn word_expires_at(&self, state: u64) -> Nanos {
        match self.algorithm {
            Algorithm::TokenBucket | Algorithm::LeakyBucket => state,
            Algorithm::FixedWindow => fixed_window::expires_at(self, state),
            Algorithm::SlidingWindowCounter => sliding_counter::expires_at(self, state),
            // The keyed log's slot state: 1 + its newest entry's time.
            Algorithm::SlidingWindowLog => state.saturating_add(self.period - 1),
        }
    }

    pub(crate) fn blank_decision(&self, allowed: bool) -> Decision {
        Decision {
            allowed,
            limit: self.max_cost() as u32,
            remaining_num: 0,
            remaining_unit: 1,
            reset_after: 0,
            retry_after: 0,
            delay: 0,
            window: self.window,
            quota_index: 0,
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use core::time::Duration;

    /// The split must not change a single answer: `admit` is `decide(..).0`, on
    /// arbitrary (even corrupt) states, times and costs.
    #[test]
    fn admit_is_exactly_decides_state_change() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for (limit, period) in [(1, 2), (5, 1_000), (7, 999_983), (100, 60_000_000_000)] {
            let q = Quota::new(limit, Duration::from_nanos(period)).unwrap();
            let params: [Params; 3] = [
                Params::new(Algorithm::TokenBucket, &q).unwrap(),
                Params::new(Algorithm::FixedWindow, &q).unwrap(),
                Params::new(Algorithm::SlidingWindowCounter, &q).unwrap(),
            ];
            for _ in 0..20_000 {
                let (raw_state, raw_now, raw_cost) = (next(), next(), next());
                let now = raw_now >> (raw_now % 64);
                let state = if raw_state % 3 == 0 {
                    now.wrapping_add(raw_state % 5_000)
                } else {
                    raw_state
                };
                let cost = 1 + raw_cost % u64::from(limit);
                let p = &params[0];
                assert_eq!(
                    Gcra::admit(p, state, now, cost),
                    Gcra::decide(p, state, now, cost).0
                );
                let p = &params[1];
                assert_eq!(
                    Fixed::admit(p, state, now, cost),
                    Fixed::decide(p, state, now, cost).0
                );
                let p = &params[2];
                assert_eq!(
                    Counter::admit(p, state, now, cost),
                    Counter::decide(p, state, now, cost).0
                );
            }
        }
    }
}
