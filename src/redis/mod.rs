//! One limit shared by many processes: the limiters' states in Redis (feature
//! `redis`).
//!
//! [`RedisLimiter`] runs the five algorithms as atomic Lua scripts on the server,
//! with the same [`Quota`](crate::Quota), [`Algorithm`](crate::Algorithm) and
//! [`Decision`](crate::Decision) as the in-memory limiters, and the same decisions
//! for the same timestamps: time is the server's `TIME` in nanoseconds since the
//! UNIX epoch, the timeline of [`DefaultClock`](crate::DefaultClock), so windows
//! align identically. Anything that speaks the protocol and runs Lua works: Redis,
//! Valkey, Redis Cluster (every key sits in a hash tag of its own).
//!
//! - **Keys.** Any `Hash` value, hashed with 64-bit FNV-1a over the bytes its
//!   `Hash` implementation writes (integers little-endian, `usize` as 64 bits), so
//!   every process and platform names a key alike; the Redis key is
//!   `prefix{hash in 16 hex digits}`. A [`Raw`] key is used as its bytes,
//!   `prefix{bytes}`, for keys that programs in other languages name too.
//! - **States.** Token and leaky bucket: the TAT as a decimal string. Fixed
//!   window: `"window count"`. Sliding-window counter: `"window previous current"`.
//!   Sliding-window log: a sorted set of at most `limit` members of 40 bytes (the
//!   unit's time and a sequence number): in Redis 7, about 50 bytes per unit of
//!   limit while the set fits Redis's compact encoding (128 members by default),
//!   about 130 above it. Each expires (`PEXPIRE`, rounded up to the millisecond)
//!   when it comes to mean the same as no state.
//! - **Failures.** Every call has a timeout; a check then answers per the
//!   [`FailurePolicy`], counted in [`RedisStats`], with one log line (feature
//!   `tracing`) when Redis goes away and one when it is back.
//! - **Round trips.** A key Redis denied is denied locally until its retry time,
//!   from a small in-process table (see [`RedisLimiterBuilder::deny_cache`] and
//!   its trade-off below).
//!
//! The local deny cache trades freshness for round trips: a reset of the key in
//! Redis, made by another process, is seen here late, by at most the retry time
//! the denial carried. A locally answered denial reports its retry time as its
//! reset time too.
//!
//! [`RedisStore`] is the key-value contract of [`Backend`](crate::store::Backend)
//! on Redis, async, with `MemoryStore`'s semantics.

mod deny_cache;
mod failure;
mod key;
mod limiter;
mod scripts;
mod store;
#[cfg(test)]
mod tests;

pub use failure::{FailurePolicy, RedisStats, Unavailable};
pub use key::{Raw, RedisKey};
pub use limiter::{RedisLimiter, RedisLimiterBuilder, RedisSetupError, DEFAULT_DENY_CACHE};
pub use store::RedisStore;
