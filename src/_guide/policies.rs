//! # Policies: runtime quotas, tiers, stacks, configuration
//!
//! ## Changing a quota at runtime
//!
//! [`set_quota`](crate::Limiter::set_quota) (on both limiters) publishes a new
//! quota for the next check. Checks never wait for it: the compiled parameters
//! live in a small ring of slots behind a published ticket, a check reads the
//! slot the ticket names and validates it by the slot's sequence number, and
//! `set_quota` writes the next slot before it publishes it. Concurrent
//! `set_quota` calls are serialized among themselves (a writer waits only for
//! another writer's few stores).
//!
//! The states stay; only the limits change:
//!
//! | algorithm | what a state keeps | what `set_quota` refuses |
//! |---|---|---|
//! | token / leaky bucket | the TAT: the time debt, refilled at the new rate | nothing a build accepts |
//! | fixed window, sliding counter | the window's counts (above a lowered limit: denied until the window ends) | another period (`PeriodChangeOnWindow`), or a limit the period's packed state cannot hold |
//! | sliding-window log | the admission times | a limit above the ring allocated at build |
//!
//! Window states are packed in the widest radix their period allows (not
//! `L + 1`), which is why a new limit needs no re-encoding. A snapshot restored
//! into a limiter with another quota is reinterpreted the same way (see
//! [`snapshots`](super::snapshots)).
//!
//! ## Per-key quotas (tiers)
//!
//! A [`Tier`](crate::Tier) is a quota compiled once for one keyed limiter;
//! [`check_with`](crate::Limiter::check_with) checks a key under it, in the same
//! table, as exactly and as cheaply as a plain check. Tiers of a window
//! algorithm keep the limiter's period (the table judges every key's expiry by
//! it); the log takes none. A key's state is one whatever tier checks it: a key
//! that changes plan keeps what it used. Snapshots save every key under the
//! limiter's own quota, so build the limiter with the most generous plan.
//!
//! ```
//! use ratecell::{Algorithm, Limiter, ManualClock, Quota};
//!
//! let lim = Limiter::builder(Quota::per_minute(100)?)
//!     .algorithm(Algorithm::SlidingWindowCounter)
//!     .clock(ManualClock::new())
//!     .build()?;
//! let free = lim.tier(Quota::per_minute(10)?)?;
//! let paid = lim.tier(Quota::per_minute(100)?)?;
//! let free_admitted = (0..50).filter(|_| lim.check_with(&free, "ann").unwrap().is_allowed());
//! assert_eq!(free_admitted.count(), 10);
//! let paid_admitted = (0..50).filter(|_| lim.check_with(&paid, "bo").unwrap().is_allowed());
//! assert_eq!(paid_admitted.count(), 50);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Stacked quotas
//!
//! [`Quota::parse_stack`](crate::Quota::parse_stack) reads `"10/second;
//! 1000/day"` (separators `;`, `,` or `|`; a `burst` clause belongs to the quota
//! before it). A [`StackedLimiter`](crate::StackedLimiter) checks them all or
//! nothing, one table per quota: the quotas between the first and the last are
//! peeked, then all are checked in order, and a late denial gives back what the
//! earlier quotas took where that is exact (window counts always; a bucket when
//! no admission came after; the log never, so its quotas are all peeked). Under
//! contention a stack may admit less than each quota alone; never more than any.
//! [`Decision::quota_index`](crate::Decision::quota_index) names the quota that
//! decided. (The HTTP layer stacks its policies by peeking and checking, without
//! giving back.) In the HTTP layer, `Policy::stacked` puts a whole stack behind
//! one policy: each quota is an item of `RateLimit-Policy` (`"api-0"`,
//! `"api-1"`), and `RateLimit` names the one that decided.
//!
//! ## Configuration files
//!
//! With the `serde` feature, [`Quota`](crate::Quota) (de)serializes as its
//! string, [`Algorithm`](crate::Algorithm) and [`FullPolicy`](crate::FullPolicy)
//! as kebab-case names, and `config::LimiterConfig` holds one limiter's settings
//! (quota or stack, algorithm, capacity, full policy, tiers); a bad value is a
//! deserialization error at its field. `examples/config.rs` reads per-route,
//! per-plan policies from `examples/policies.toml`; the example server takes one
//! limiter's settings with `--config FILE` (`examples/server.toml`).
