//! # One limit, many cores: sharded leases
//!
//! Every check of a plain [`DirectLimiter`](crate::DirectLimiter) writes one
//! shared word, so when many threads check one limit at once they queue for its
//! cache line. [`DirectBuilder::sharded`](crate::DirectBuilder::sharded) (token
//! bucket only) gives each thread a cache-padded shard holding a *lease*: a batch
//! of units taken from the shared word in one compare-exchange, then spent by that
//! thread alone. A contended limit then moves the shared line once per lease, not
//! once per check.
//!
//! ```
//! use ratecell::{DirectLimiter, Quota};
//!
//! let global = DirectLimiter::builder(Quota::per_second(1_000_000)?).sharded().build()?;
//! assert!(global.shards() >= 1);
//! assert!(global.check().is_allowed());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! **Never more than the quota.** A lease of `g` units is the token bucket's
//! admission of `g` at once, so unit `j` of it owns the slot `start + j·T` of the
//! schedule, and slots are distinct and `T` apart across all leases. A unit is
//! spent only while its slot has not passed (a shard skips those whose slot has),
//! so every admission in an interval `[a, b]` owns a slot in `[a, b + tau]`: at
//! most `floor((b - a + tau) / T) + 1` of them, the plain limiter's own bound.
//!
//! **What it costs.** Units whose slot passes while their thread is quiet are lost,
//! never admitted late: at most `shards × lease` units are held at once, and a
//! lease is at most half the burst over all shards. The lease starts at one unit
//! (exactly the plain limiter) and doubles when taking one met contention; it
//! never shrinks, but a lease the bucket could not fill gets only what the bucket
//! held, so its last units are not stranded in one shard. A check served from a lease reports only that
//! lease's units in `remaining()` (a lower bound, short by at most the burst) and
//! its end in `reset_after()`; a denial's `retry_after()` comes from the shared
//! word, as for the plain limiter. `peek`, `reset` and snapshots work as usual
//! (a snapshot counts held units as taken; a reset or restore drops the leases).
//! A cost above 1 goes to the shared word directly.
