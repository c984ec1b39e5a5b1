//! # ratecell
//!
//! Rate limiting for latency-sensitive servers: five algorithms over one packed
//! state word, updated lock-free, on one nanosecond timeline.
//!
//! ```
//! use ratecell::{Algorithm, DirectLimiter, ManualClock, Quota};
//! use std::time::Duration;
//!
//! let clock = ManualClock::new();
//! let limiter = DirectLimiter::builder("3/second".parse()?)
//!     .algorithm(Algorithm::TokenBucket)
//!     .clock(clock.clone())
//!     .build()?;
//!
//! for _ in 0..3 {
//!     assert!(limiter.check().is_allowed());
//! }
//! let denied = limiter.check();
//! assert!(!denied.is_allowed());
//! assert_eq!(denied.remaining(), 0);
//! assert_eq!(denied.retry_after(), Some(Duration::from_nanos(333_333_333)));
//!
//! clock.advance(Duration::from_secs(1));
//! // peek answers exactly what check would: allowed, leaving 2 of 3.
//! assert_eq!(limiter.peek().remaining(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A [`DirectLimiter`] holds one limit; a [`Limiter`] holds one per key (any `Hash`
//! value: `str`, `IpAddr`, tuples) in a lock-free table whose memory is fixed at
//! build. A [`Quota`] is parsed (`"100/minute"`, `"10/s burst 20"`) or built, and
//! an [`Algorithm`] chosen: token bucket (GCRA, the default), leaky bucket, fixed
//! window, sliding-window log or sliding-window counter. Every check answers with a
//! [`Decision`], which also renders the HTTP rate-limit header fields. A check
//! never blocks, never allocates and never takes a lock.
//!
//! ```
//! use ratecell::{Limiter, ManualClock, Quota};
//!
//! let lim = Limiter::builder("2/second".parse()?)
//!     .capacity(100_000)
//!     .clock(ManualClock::new())
//!     .build()?;
//! let ip: std::net::IpAddr = "192.0.2.1".parse()?;
//! assert!(lim.check(&ip).is_allowed());
//! assert!(lim.check(&ip).is_allowed());
//! assert!(!lim.check(&ip).is_allowed());
//! assert!(lim.check("user:42").is_allowed());
//! assert_eq!(lim.stats().denied, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The [guide](crate::_guide) says exactly what every algorithm admits, how time,
//! capacity, identity and snapshots work, and what happens when the table is full;
//! the tests hold the code to it against sequential reference models.

#![cfg_attr(not(feature = "std"), no_std)]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

extern crate alloc;

#[macro_use]
mod macros;

mod algorithm;
mod cell;
mod clock;
mod concurrency;
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
pub mod config;
mod decision;
mod error;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod http;
mod limiter;
mod quota;
#[cfg(all(feature = "redis", not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
pub mod store;
mod sync;
mod table;
mod wait;

pub mod _guide;
// Snapshots need files (std); loom builds model the table, not its files.
#[cfg(all(feature = "std", not(loom)))]
pub mod snapshot;

pub use algorithm::{Algorithm, MAX_LOG_LIMIT};
#[cfg(feature = "std")]
pub use clock::CoarseClock;
pub use clock::{Clock, DefaultClock, ManualClock, Nanos};
pub use concurrency::{ConcurrencyLimiter, OwnedPermit, Permit};
pub use concurrency::{KeyedConcurrencyLimiter, KeyedPermit, OwnedKeyedPermit};
pub use decision::Decision;
pub use error::{BuildError, InsufficientCapacity};
pub use limiter::{DirectBuilder, LimiterBuilder, DEFAULT_CAPACITY, DEFAULT_LOG_MEMORY};
pub use limiter::{DirectLimiter, Limiter, Stats};
pub use limiter::{StackedBuilder, StackedLimiter, Tier, TierError, MAX_STACK};
pub use quota::{Quota, QuotaError, MAX_PERIOD};
#[cfg(all(feature = "std", not(loom)))]
pub use snapshot::{SnapshotError, SnapshotInfo};
// The fuzz targets' checks, for the fuzz crate only.
#[cfg(all(feature = "std", not(loom), fuzzing))]
#[doc(hidden)]
pub use snapshot::__fuzz;
pub use table::FullPolicy;

/// The header fields a [`Decision`] renders, without an HTTP crate.
pub mod headers {
    pub use crate::decision::{FieldValue, Headers};
}

/// Whether every check is lock-free on this machine.
///
/// Direct limiters and the word algorithms' cells use 64-bit atomics, lock-free on
/// every target that has them. The keyed table and the sliding-window log use a
/// 128-bit compare-exchange: native on x86-64 (`cmpxchg16b`, detected at run time
/// where the build does not assume it) and on AArch64 (`casp` or an LL/SC pair),
/// but on targets without one (32-bit ARM, RISC-V, MIPS, PowerPC without quadword
/// atomics) `portable-atomic` falls back to a global lock table, and this returns
/// `false`. Call it at start-up if your deployment depends on the guarantee.
#[cfg(not(loom))]
pub fn is_lock_free() -> bool {
    sync::u128_is_lock_free()
}

/// The README's examples, compiled and run by `cargo test` so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
