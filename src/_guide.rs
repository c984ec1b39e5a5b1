//! # A guide to ratecell
//!
//! The README shows how to use ratecell; this guide says exactly what it does.
//! Each part answers one question:
//!
//! * [`semantics`]: what each algorithm admits, and what a [`Decision`](crate::Decision)
//!   reports, down to the nanosecond.
//! * [`time`]: the one timeline every state lives on, why windows start at
//!   multiples of the period, and the clocks.
//! * [`capacity`]: how much memory a keyed [`Limiter`](crate::Limiter) takes, when a
//!   key's state expires, and what happens when the table is full.
//! * [`identity`]: how keys are told apart, how likely two keys are to be confused,
//!   and what a client who crafts keys can and cannot do.
//! * [`stores`]: the table as a key-value store, and the contract a keyed limiter
//!   needs from its store.
//! * [`snapshots`]: what saving and restoring a limiter guarantees.
//! * [`sharding`]: one limit checked by many cores at once.
//! * [`waiting`]: how waits book their place, in what order they are admitted,
//!   and what a cancelled wait gives back.
//! * [`policies`]: changing a quota at runtime, per-key quotas (tiers), stacked
//!   quotas, and configuration files.
//!
//! Measured figures (timings, memory in a running process) are not here: they are
//! in the repository's BENCHMARKS.md, each with its date and the command that
//! reproduces it. The snapshot file's bytes are in FORMAT.md.
//!
//! # Two limiters
//!
//! A [`DirectLimiter`](crate::DirectLimiter) holds one state: one limit for
//! everything that checks it (the outgoing mail of a process, the calls to one
//! upstream). A [`Limiter`](crate::Limiter) holds one state per key, in a table
//! whose capacity is fixed when it is built: one limit per client address, user or
//! API token, each key getting the whole quota. Both are `Send + Sync`; share them
//! with `&` or `Arc`. Both answer every check with a
//! [`Decision`](crate::Decision), and neither ever blocks, allocates or takes a
//! lock in a check: a check reads the clock once, runs the algorithm's pure
//! function over the state it read, and installs the new state with one
//! compare-exchange, trying again only if another thread changed the state
//! meanwhile.
//!
//! # Quotas
//!
//! A [`Quota`](crate::Quota) is a limit `L` per period `P`, with a burst `B` for
//! the two bucket algorithms (default `L`). Build one with
//! [`Quota::per_second`](crate::Quota::per_second) and its siblings,
//! [`Quota::new`](crate::Quota::new) and
//! [`Quota::with_burst`](crate::Quota::with_burst), or parse one:
//!
//! ```text
//! LIMIT ("/" | "per") [MULT] UNIT [["," | ";"] "burst" ["="] B]
//! ```
//!
//! in any case and spacing, with the units `ns`, `us`, `ms`, `s`/`sec`/`second(s)`,
//! `m`/`min`/`minute(s)`, `h`/`hr`/`hour(s)` and `d`/`day(s)`. `Quota`'s `Display`
//! prints a form that parses back to an equal quota, and every mistake is a typed
//! [`QuotaError`](crate::QuotaError).
//!
//! ```
//! use ratecell::{Quota, QuotaError};
//! use std::time::Duration;
//!
//! let q: Quota = "5/15m".parse()?;
//! assert_eq!(q, Quota::new(5, Duration::from_secs(15 * 60))?);
//! assert_eq!(q.to_string().parse::<Quota>()?, q);
//! assert_eq!("10 per second, burst = 20".parse::<Quota>()?, Quota::per_second(10)?.with_burst(20)?);
//! assert!("10 per fortnight".parse::<Quota>().is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A quota never admits more than one request per nanosecond
//! ([`QuotaError::RateTooHigh`](crate::QuotaError::RateTooHigh)), and its period
//! and its burst's span are at most 2^62 ns
//! ([`QuotaError::PeriodTooLong`](crate::QuotaError::PeriodTooLong)), which keeps
//! every algorithm's arithmetic inside 64 bits.
//!
//! # Header fields
//!
//! [`Decision::headers`](crate::Decision::headers) yields the response header
//! fields as `(name, value)` pairs without allocating;
//! [`Decision::headers_named`](crate::Decision::headers_named) names the policy in
//! the IETF fields (at most 32 bytes of a plain token; `"default"` otherwise).
//! Durations are whole seconds, rounded up, so a client that waits what it is told
//! is never early.
//!
//! | field | value | when |
//! |---|---|---|
//! | `RateLimit-Policy` | `"default";q=<limit()>;w=<window() in s>` | always |
//! | `RateLimit` | `"default";r=<remaining()>;t=<reset_after() in s>` | always |
//! | `X-RateLimit-Limit` | `limit()` | always |
//! | `X-RateLimit-Remaining` | `remaining()` | always |
//! | `X-RateLimit-Reset` | `reset_after()` in seconds (a delay, not a timestamp) | always |
//! | `Retry-After` | `retry_after()` in seconds, at least 1 | denied only |
//!
//! `RateLimit-Policy` and `RateLimit` follow the IETF httpapi working group's
//! RateLimit header fields draft: `q` is the quota's size, `w` the span it
//! applies to, `r` what remains and `t` when the quota is whole again. The
//! `X-RateLimit-*` trio is the older convention many clients still read.

pub mod capacity;
pub mod identity;
pub mod policies;
pub mod semantics;
pub mod sharding;
pub mod snapshots;
pub mod stores;
pub mod time;
pub mod waiting;
