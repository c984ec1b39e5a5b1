//! # Time: one timeline, and the clocks that read it
//!
//! # One timeline
//!
//! Every time ratecell stores is a point on a single timeline: nanoseconds since
//! the UNIX epoch, in a `u64`. A token bucket's `TAT`, a window's number, a log's
//! entries and a key's expiry all mean the same instant in every limiter of a
//! process, in every process on a machine whose clock is right, and in every
//! snapshot file. That is what lets a snapshot hold absolute times that keep their
//! meaning across a restart (time spent offline counts as elapsed, with no
//! translation), and what would let a remote store shared by many processes hold
//! the same states with the same meaning.
//!
//! # Why windows start at multiples of the period
//!
//! The window algorithms (`FixedWindow`, and `SlidingWindowCounter`'s windows)
//! cut the timeline into windows `[k*P, (k+1)*P)`: a window starts at a multiple of
//! the period since the epoch, not at a key's first request. A `"100/hour"`
//! fixed window is a UTC clock hour, and a `"1000/day"` one ends at midnight UTC.
//!
//! ratecell aligns windows because of the one timeline. A window is then named by
//! its number `k` alone, which is all a state needs to store; a snapshot restored
//! later, or another process reading a shared store, computes the same window for
//! the same instant with no start time stored per key; and every key's window
//! turns over at the same moment, which is easy to explain to the people being
//! limited.
//!
//! Not every library does this. Python's `limits`, for one, starts a fixed window
//! at a key's first hit (in memory and on Redis alike): a key first seen at
//! 00:00:45 under "10 per minute" has its window run to 00:01:45, where ratecell's
//! runs to 00:01:00. The two libraries therefore count the same requests into
//! different windows and let a client back in at different times.
//!
//! ```
//! use ratecell::{Algorithm, DirectLimiter, ManualClock, Quota};
//! use std::time::Duration;
//!
//! let clock = ManualClock::new();
//! clock.set(Duration::from_secs(7)); // the first request comes at 7 s
//! let lim = DirectLimiter::builder("5/10s".parse::<Quota>()?)
//!     .algorithm(Algorithm::FixedWindow)
//!     .clock(clock.clone())
//!     .build()?;
//! assert!(lim.check_n(5)?.is_allowed());
//! // The window is [0 s, 10 s), not [7 s, 17 s): it ends in 3 s.
//! assert_eq!(lim.check().retry_after(), Some(Duration::from_secs(3)));
//! clock.set(Duration::from_secs(10));
//! assert!(lim.check().is_allowed());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Clocks
//!
//! A limiter reads its [`Clock`](crate::Clock) once per check. Any type that
//! implements it works (`&C` and `Arc<C>` do too); it must be cheap.
//!
//! * [`DefaultClock`](crate::DefaultClock) (with the default `std` feature) reads
//!   the system time once per process, then advances it with quanta's monotonic
//!   counter (the TSC where it is reliable). It never goes backwards within a
//!   process and never jumps when NTP or an operator moves the wall clock, and a
//!   reading is a counter read and a multiply rather than a system call. Every
//!   `DefaultClock` in a process shares one anchor, so all its limiters agree on
//!   "now".
//! * `CoarseClock` reads quanta's `recent()` value on the same timeline: cheaper
//!   still, but only as fresh as the `quanta::Upkeep` thread your application runs
//!   (a 1 ms upkeep interval means limits are enforced with up to 1 ms of slack).
//!   ratecell never starts that thread; until it runs, the clock falls back to a
//!   precise reading.
//! * [`ManualClock`](crate::ManualClock) starts at 0 and moves only by `advance`
//!   and `set` (backwards too); clones share one time. It is the clock for tests:
//!   keep a clone and move the limiter's time from the test.
//!
//! A clock that goes backwards is tolerated: an earlier reading than a stored state
//! counts as no time having passed, so it never refills a quota (see
//! [the rules](super::semantics#rules-every-algorithm-keeps)). A clock that does so
//! routinely loses the precision of its limits.
//!
//! Without the default `std` feature the crate is `no_std` (it needs `alloc`) and
//! has no default clock: pass one to the builder's `clock(..)`. Readings must stay
//! below 2^63 ns (the year 2262).
