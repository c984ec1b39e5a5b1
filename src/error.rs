//! The errors of the public API.

use crate::algorithm::{Algorithm, Unfit};
use core::fmt;

/// A limiter could not be built from its configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// The window algorithms have no burst parameter; the quota set one.
    BurstOnWindowAlgorithm(Algorithm),
    /// The quota is too fine for the algorithm's packed state: the sliding-window
    /// counter needs `(limit + 1)^2 <= 2 * period / 1 ns`, the log at most
    /// [`MAX_LOG_LIMIT`](crate::MAX_LOG_LIMIT) entries.
    QuotaTooLargeForAlgorithm(Algorithm),
    /// A keyed limiter needs room for at least one key.
    ZeroCapacity,
    /// The table for this capacity could not be allocated.
    CapacityTooLarge(usize),
    /// A keyed sliding-window log needs `needed` bytes of logs (one of `limit`
    /// entries per room of the table), more than the builder's
    /// [`log_memory_limit`](crate::LimiterBuilder::log_memory_limit) allows.
    LogsTooLarge {
        /// The bytes the logs would take.
        needed: u64,
        /// The bytes allowed.
        limit: u64,
    },
    /// Only the token bucket can be sharded (`DirectBuilder::sharded`).
    NotShardable(Algorithm),
    /// A sharded limiter needs at least one shard.
    ZeroShards,
    /// The memory for the keyed logs (`bytes` of it) could not be allocated.
    LogsOutOfMemory {
        /// The bytes that were asked for.
        bytes: u64,
    },
    /// The store cannot run this algorithm keyed: a sliding-window log needs a
    /// store built with a per-key log of the quota's limit (the builder's own
    /// `MemoryStore` is).
    NotKeyed(Algorithm),
    /// `set_quota` (or a [`Tier`](crate::Tier)) on a window algorithm with another
    /// period: the windows are numbered by the period, so every stored state would
    /// mean another window.
    /// (A snapshot restore, which knows both quotas, reinterprets them instead.)
    PeriodChangeOnWindow(Algorithm),
    /// A [`StackedLimiter`](crate::StackedLimiter) holds 1 to
    /// [`MAX_STACK`](crate::MAX_STACK) quotas; this many were given.
    StackSize(usize),
    /// This algorithm takes no per-key quota ([`Tier`](crate::Tier)): the
    /// sliding-window log's per-key logs are sized and expired by the limiter's
    /// own quota.
    TierUnsupported(Algorithm),
    /// A concurrency limiter needs room for at least one permit.
    ZeroPermits,
    /// A concurrency limiter holds at most
    /// [`ConcurrencyLimiter::MAX_PERMITS`](crate::ConcurrencyLimiter::MAX_PERMITS)
    /// permits; this many were asked for.
    TooManyPermits(u32),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BurstOnWindowAlgorithm(a) => {
                write!(f, "{a:?} takes no burst: remove with_burst from the quota")
            }
            Self::QuotaTooLargeForAlgorithm(a) => {
                write!(f, "the quota's limit is too large for {a:?} at this period")
            }
            Self::ZeroCapacity => write!(f, "capacity must be at least 1 key"),
            Self::CapacityTooLarge(n) => write!(f, "cannot allocate a table for {n} keys"),
            Self::LogsTooLarge { needed, limit } => write!(
                f,
                "the keyed sliding-window logs need {needed} bytes, over the limit of \
                 {limit}: lower the capacity or the quota's limit, or raise \
                 log_memory_limit"
            ),
            Self::NotShardable(a) => write!(f, "{a:?} cannot be sharded: only TokenBucket can"),
            Self::ZeroShards => write!(f, "a sharded limiter needs at least 1 shard"),
            Self::LogsOutOfMemory { bytes } => {
                write!(
                    f,
                    "cannot allocate {bytes} bytes for the keyed sliding-window logs"
                )
            }
            Self::NotKeyed(a) => write!(f, "this store cannot hold {a:?} state for keys"),
            Self::PeriodChangeOnWindow(a) => write!(
                f,
                "{a:?} numbers its windows by the limiter's period: a new quota or a \
                 tier must keep that period (or build a new limiter)"
            ),
            Self::StackSize(n) => write!(
                f,
                "a stack holds 1 to {} quotas, not {n}",
                crate::limiter::MAX_STACK
            ),
            Self::TierUnsupported(a) => write!(f, "{a:?} takes no per-key quota (tier)"),
            Self::ZeroPermits => write!(f, "a concurrency limit must allow at least 1 permit"),
            Self::TooManyPermits(n) => {
                write!(f, "{n} permits is more than a concurrency limiter holds")
            }
        }
    }
}

impl core::error::Error for BuildError {}

impl From<Unfit> for BuildError {
    fn from(unfit: Unfit) -> Self {
        match unfit {
            Unfit::BurstOnWindow(a) => Self::BurstOnWindowAlgorithm(a),
            Unfit::TooLarge(a) => Self::QuotaTooLargeForAlgorithm(a),
            Unfit::PeriodChange(a) => Self::PeriodChangeOnWindow(a),
        }
    }
}

impl InsufficientCapacity {
    /// A cost of `requested` where at most `max` can ever be admitted.
    pub(crate) fn new(requested: u32, max: u32) -> Self {
        Self { requested, max }
    }
}

/// The request's cost can never be admitted: it exceeds what the limiter can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InsufficientCapacity {
    /// The cost asked for.
    pub requested: u32,
    /// The largest cost this limiter can ever admit (its burst, or its limit).
    pub max: u32,
}

impl fmt::Display for InsufficientCapacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cost {} can never be admitted: at most {} fits",
            self.requested, self.max
        )
    }
}

impl core::error::Error for InsufficientCapacity {}
