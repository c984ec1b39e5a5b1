//! # Semantics: what each algorithm admits
//!
//! This is the exact behaviour of the five algorithms; the tests hold the code to
//! it against sequential reference models, and the token bucket against
//! `governor` on the same timestamps.
//!
//! # Notation
//!
//! * `L`: the quota's limit; `P`: its period.
//! * `B`: the burst. Default `L`; only the two bucket algorithms accept an explicit
//!   one, and the window algorithms refuse it with
//!   [`BuildError::BurstOnWindowAlgorithm`](crate::BuildError::BurstOnWindowAlgorithm).
//! * `n >= 1`: the cost of a check (`check` costs 1, `check_n(n)` costs `n`).
//! * `T = P / L`: the emission interval, rounded down, at least 1 ns.
//! * `tau = T*(B-1)`: how far ahead of `now` a bucket may run.
//! * `now`: the clock's reading in nanoseconds on the [timeline](super::time).
//! * Window `k` is `[k*P, (k+1)*P)` on the timeline: windows start at multiples
//!   of `P` since the UNIX epoch ([why](super::time#why-windows-start-at-multiples-of-the-period)).
//!
//! # The algorithms
//!
//! | algorithm | state | admission rule | `remaining` | `reset_after` | `retry_after` (denied) | memory per key |
//! |---|---|---|---|---|---|---|
//! | `TokenBucket` | `TAT` (absent = `now`) | `now >= TAT + T*(n-1) - tau`; then `TAT' = max(TAT, now) + n*T` | `floor((now + tau + T - TAT')/T)` clamped to `[0, B]` (`TAT' = TAT` when denied) | `TAT' - now`: until the bucket is full again | `TAT + T*(n-1) - tau - now` | 8 bytes |
//! | `LeakyBucket` | as `TokenBucket` | as `TokenBucket`; the request is scheduled at `max(TAT, now)`, `delay = max(TAT, now) - now` | as `TokenBucket` | as `TokenBucket` | as `TokenBucket` | 8 bytes |
//! | `FixedWindow` | window `k`, `count` | `count + n <= L` | `L - count` (after this request's `n` if allowed) | `(k+1)*P - now`: the end of the window | `(k+1)*P - now`: the next window admits any `n <= L` | 8 bytes |
//! | `SlidingWindowLog` | a ring of the last `L` admitted units' times | at most `L - n` units admitted in `(now' - P, now']`, `now' = max(now, newest entry)` | `L` minus units in `(now' - P, now']` (including this request's if allowed) | newest entry `+ P - now` | the `n`-th oldest of the last `L` entries `+ P - now` | `8*L + 16` bytes (`L = 100`: 816 bytes) |
//! | `SlidingWindowCounter` | window `k`, `prev`, `cur` counts | with `e = now - k*P`: `prev*(P - e) + (cur + n)*P <= L*P`, exact integers | `floor((L*P - prev*(P - e))/P) - cur` (`cur` after this request's `n` if allowed) | `(k+2)*P - now` if `cur > 0`, else `(k+1)*P - now` if `prev > 0`, else 0 | the first time the same request fits if nothing else is admitted: later in this window as `prev`'s weight shrinks, or in the next window, where `prev` becomes `cur` | 8 bytes |
//!
//! In words:
//!
//! * **[`TokenBucket`](crate::Algorithm::TokenBucket)** is GCRA, the generic cell
//!   rate algorithm: the state is the theoretical arrival time `TAT` of the next
//!   request, a bucket of `B` tokens refilling one every `T`. Its decisions equal
//!   `governor`'s for a quota of one cell per `T` with burst `B`, on the same
//!   timestamps.
//! * **[`LeakyBucket`](crate::Algorithm::LeakyBucket)** shapes rather than
//!   rejects: it admits as the token bucket does, but each admitted request is
//!   scheduled at `max(TAT, now)` and [`Decision::delay`](crate::Decision::delay)
//!   says how long to wait for it, so admitted requests leave exactly `T` apart and
//!   `B` bounds the queue (nginx `limit_req` without `nodelay`).
//! * **[`FixedWindow`](crate::Algorithm::FixedWindow)** counts admitted units per
//!   window. It is the easiest rule to explain ("100 per calendar hour"), and the
//!   loosest: up to `2L` can pass across a window boundary.
//! * **[`SlidingWindowLog`](crate::Algorithm::SlidingWindowLog)** keeps the times
//!   of the last `L` admitted units, so the limit holds exactly over every
//!   trailing period; its memory grows with `L`.
//! * **[`SlidingWindowCounter`](crate::Algorithm::SlidingWindowCounter)** keeps two
//!   counts in one word and weights the previous window's by how much of it still
//!   overlaps the trailing period: close to a sliding window, but an
//!   approximation (it assumes the previous window's requests were spread evenly).
//!
//! # Rules every algorithm keeps
//!
//! * A denied request changes no state. [`Decision::retry_after`](crate::Decision::retry_after)
//!   is `Some` if and only if the request was denied;
//!   [`Decision::delay`](crate::Decision::delay) is zero except for admitted
//!   `LeakyBucket` requests.
//! * `peek()` returns exactly the [`Decision`](crate::Decision) that `check()`
//!   would return at that moment (cost 1), without the state change; its
//!   `remaining()` therefore already counts the request it is asking about.
//!   `check_n(0)` answers like `peek()`.
//! * `check_n(n)` with `n` above `B` (buckets) or `L` (windows) is
//!   `Err(`[`InsufficientCapacity`](crate::InsufficientCapacity)`)`: it could never
//!   be admitted, and waiting would not help.
//! * A clock reading earlier than the stored state is treated as no time having
//!   passed, so a clock set backwards never refills a quota: for the buckets the
//!   stored `TAT` simply lies in the future; for the two window counters a reading
//!   before the stored window counts as that window's start (`e = 0`, `prev` fully
//!   weighted); for the log, time is `max(now, newest entry)`.
//! * No arithmetic overflows or panics for any reading below 2^63 ns (the year
//!   2262). `P` and `B*T` are at most 2^62 ns, and a quota admits at most one
//!   request per nanosecond.
//! * [`Decision::limit`](crate::Decision::limit) is `B` for the buckets and `L`
//!   for the windows; [`Decision::window`](crate::Decision::window) is `B*T` for
//!   the buckets and `P` for the windows.
//!
//! # Size limits of the packed states
//!
//! Each state fits one 64-bit word (the log: a ring), which bounds a few quotas.
//! They are refused when the limiter is built, with
//! [`BuildError::QuotaTooLargeForAlgorithm`](crate::BuildError::QuotaTooLargeForAlgorithm):
//!
//! * `SlidingWindowCounter` needs `(L+1)^2 <= 2*P/1ns`, so that its two counts and
//!   its window number share the word (for `P = 1 s`, `L <= 44720`).
//! * `SlidingWindowLog` needs `L <= 65535` (`MAX_LOG_LIMIT`), 512 KiB per key.
//!
//! # An example
//!
//! The sliding-window counter weights the previous window by its overlap with the
//! trailing period:
//!
//! ```
//! use ratecell::{Algorithm, DirectLimiter, ManualClock, Quota};
//! use std::time::Duration;
//!
//! let clock = ManualClock::new();
//! let lim = DirectLimiter::builder("10/s".parse::<Quota>()?)
//!     .algorithm(Algorithm::SlidingWindowCounter)
//!     .clock(clock.clone())
//!     .build()?;
//! assert!(lim.check_n(10)?.is_allowed()); // window 0 is full
//!
//! // A quarter into window 1, window 0 still overlaps the trailing second by
//! // three quarters: 7.5 of its 10 count, so 2 more fit (2 + 7.5 <= 10), not 3.
//! clock.set(Duration::from_millis(1250));
//! assert_eq!(lim.peek().remaining(), 1); // peek counts itself: 2 fit, 1 left after it
//! assert!(!lim.check_n(3)?.is_allowed());
//! assert!(lim.check_n(2)?.is_allowed());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
