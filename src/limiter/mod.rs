//! The public limiters: [`DirectLimiter`] (one state), [`Limiter`] (one state per
//! key), their builders and the keyed limiter's statistics.

pub(crate) mod builder;
mod direct;
mod keyed;
pub(crate) mod live;
mod stacked;
pub(crate) mod stats;
mod tier;

pub use builder::{DirectBuilder, LimiterBuilder, DEFAULT_CAPACITY, DEFAULT_LOG_MEMORY};
pub(crate) use direct::DirectCell;
pub use direct::DirectLimiter;
pub use keyed::Limiter;
pub use stacked::{StackedBuilder, StackedLimiter, MAX_STACK};
pub use stats::Stats;
pub use tier::{Tier, TierError};
