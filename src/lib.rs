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
//! ## Guide
//!
//! * **Quotas.** [`Quota`] is `limit` per `period` with an optional burst; build one
//!   with [`Quota::per_second`] and friends, [`Quota::new`], or parse
//!   `"100/minute"`, `"5/15m"`, `"1000 per hour"`, `"10/s burst 20"`. Every mistake
//!   is a [`QuotaError`].
//! * **Algorithms.** [`Algorithm::TokenBucket`] (GCRA, the default) for smooth limits
//!   with bursts; [`Algorithm::LeakyBucket`] to *shape* traffic (admitted requests
//!   wait [`Decision::delay`]); [`Algorithm::FixedWindow`] for "N per calendar
//!   minute"; [`Algorithm::SlidingWindowLog`] when the limit must hold exactly over
//!   every trailing period; [`Algorithm::SlidingWindowCounter`] for a near-exact
//!   sliding window in one word.
//! * **Decisions.** [`Decision`] says allowed or not, `remaining`, `reset_after`,
//!   `retry_after` (some iff denied) and renders the IETF `RateLimit` /
//!   `RateLimit-Policy` fields and the legacy `X-RateLimit-*` / `Retry-After` ones
//!   ([`Decision::headers`]).
//! * **Time.** One timeline: nanoseconds since the UNIX epoch ([`DefaultClock`]).
//!   Tests drive a [`ManualClock`]. A clock that moves backwards never refills a
//!   quota.
//! * **Cost.** `check_n(n)` admits `n` units all or nothing;
//!   [`InsufficientCapacity`] if `n` can never fit. `peek` answers without
//!   consuming; `reset` forgets.
//! * **Keys.** [`Limiter`] gives every key (any `Hash` type: `str`, `IpAddr`,
//!   tuples) its own quota, in a lock-free table of fixed capacity: memory is set at
//!   build (about 23.4 bytes per key; the log needs `16 + 8 × limit` more) and never
//!   grows, whatever keys arrive. When a new key finds no room, the [`FullPolicy`]
//!   evicts the key that expires soonest or denies. Hash seeds are random per
//!   limiter, and a key may live in only two 128-byte groups, so crafted keys can
//!   at worst displace each other.
//! * **Stores.** The table is a [`MemoryStore`], which also offers the seed's
//!   key-value [`Backend`] contract (get, set with TTL, delete, exists, atomic
//!   increment, clear, close); the keyed limiter is generic over its
//!   [`StateStore`].
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
//! The exact semantics of every algorithm are in the README's semantics table; the
//! tests hold the code to them against sequential reference models.

#![cfg_attr(not(feature = "std"), no_std)]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

extern crate alloc;

mod algorithm;
mod backend;
mod builder;
mod cell;
mod clock;
mod decision;
mod error;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod http;
mod limiter;
mod quota;
mod sync;
mod table;
// Snapshots need files (std); loom builds model the table, not its files.
#[cfg(all(feature = "std", not(loom)))]
mod snapshot;

pub use algorithm::{Algorithm, MAX_LOG_LIMIT};
pub use backend::{Backend, BackendError, StateStore, Transition};
pub use builder::{DirectBuilder, LimiterBuilder, DEFAULT_CAPACITY};
#[cfg(feature = "std")]
pub use clock::CoarseClock;
pub use clock::{Clock, DefaultClock, ManualClock, Nanos};
pub use decision::{Decision, HeaderValue, Headers};
pub use error::{BuildError, InsufficientCapacity};
pub use limiter::{DirectLimiter, Limiter};
pub use quota::{Quota, QuotaError, MAX_PERIOD};
#[cfg(all(feature = "std", not(loom)))]
#[doc(hidden)]
pub use snapshot::__fuzz;
#[cfg(all(feature = "std", not(loom)))]
pub use snapshot::{
    EntryProblem, LogTimes, Refusal, SnapshotEntry, SnapshotError, SnapshotFile, SnapshotHeader,
    SnapshotInfo, SnapshotKind,
};
pub use table::memory::MemoryStore;
pub use table::stats::Stats;
pub use table::FullPolicy;

/// The README's examples, compiled and run by `cargo test` so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
