//! # Waiting: reservations, their order, and giving them back
//!
//! A wait ([`DirectLimiter::wait`](crate::DirectLimiter::wait) and its
//! siblings) *books* its cost at the earliest time `at` it fits, then sleeps
//! until the limiter's clock reads `at`. The booking is the check that the
//! request would pass at `at`, installed at once with one compare-exchange:
//! everything checked or booked afterwards counts the booked units as already
//! admitted. So waiters are admitted in the order they booked, each one emission
//! interval after the one before (for cost 1), and a `check` made meanwhile is
//! denied until the queue has drained (its `retry_after` says how long).
//!
//! | algorithm | a wait is admitted at |
//! |---|---|
//! | `TokenBucket` | `max(now, TAT + T·(n-1) - tau)`: when the bucket holds `n` tokens, after everything booked before |
//! | `LeakyBucket` | `max(now, TAT)`: the request's departure, which is what `Decision::delay` waits out after a check |
//! | `SlidingWindowCounter` | the first moment the counter admits the cost, later in the window or in a later one |
//! | `FixedWindow` | now if the cost fits; else the next window's start, where the waiter tries again |
//! | `SlidingWindowLog` | now if the cost fits; else when the oldest entries age out, where the waiter tries again |
//!
//! The fixed window and the log cannot book ahead: the fixed window's word holds
//! one window's count, and a booking into the next window would let checks in the
//! current window count against it instead. Their waiters sleep until the cost
//! could fit and book again, so they are not ordered among themselves (and a
//! crowd of them meets at the window's start). The same holds for a new key that
//! finds no room in a full keyed table.
//!
//! The returned [`Decision`](crate::Decision) is the one the check at `at`
//! makes: allowed, with what remains after the request.
//!
//! The queue is bounded only by the waiters' deadlines, as with Go's `Wait`: a
//! wait without one joins the queue however long it is (for the leaky bucket
//! too: the burst bounds the queue of *checks*, which are denied beyond it).
//! Use the `_within` forms to bound it.
//!
//! # Deadlines
//!
//! The `_within(max)` forms book only if `at` is at most `max` away. Otherwise
//! they return at once, having booked nothing, with a denied decision whose
//! `retry_after` is the wait the booking would have had. (For the fixed window and
//! the log, a try that finds the cost still does not fit sleeps only if the next
//! try is within the deadline.)
//!
//! # Giving a booking back
//!
//! An async wait (feature `tokio`) books when it is first polled; dropped before
//! its time, it gives back its booking as Go's `x/time/rate` does, as far as no
//! later admission depends on it: if the state is still exactly the one the
//! booking installed, it goes back to the one the booking replaced; otherwise
//! (something was checked or booked after it) nothing is given back, since the
//! later admissions were judged with the booked units counted. Of several
//! cancelled bookings, the last gives back first and then the one before it. A
//! booking whose time has come gives nothing back. A blocking wait cannot be
//! cancelled.
//!
//! # Clocks
//!
//! How long to sleep is the clock's to say
//! ([`Clock::wait_time`](crate::Clock::wait_time)): `at - now` for clocks that
//! follow real time. A [`ManualClock`](crate::ManualClock) does not sleep: it moves
//! itself forward to `at` (never back), so waits in tests take no real time and
//! the clock reads the time of the latest wake.
//!
//! ```
//! use ratecell::{Algorithm, Clock, DirectLimiter, ManualClock, Quota};
//! use std::time::Duration;
//!
//! let clock = ManualClock::new();
//! let lim = DirectLimiter::builder(Quota::per_second(4)?.with_burst(1)?)
//!     .algorithm(Algorithm::LeakyBucket)
//!     .clock(clock.clone())
//!     .build()?;
//! let wakes: Vec<u64> = (0..3).map(|_| { let _ = lim.wait(); clock.now() }).collect();
//! assert_eq!(wakes, [0, 250_000_000, 500_000_000]);
//! // A check now waits behind the queue.
//! assert_eq!(lim.check().retry_after(), Some(Duration::from_millis(250)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Snapshots hold booked states like any other; a restore clamps a token bucket's
//! `TAT` to what a check could have produced at the restore, forgetting bookings
//! beyond the burst (waiters already asleep still wake at their times).
