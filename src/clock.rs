//! Time: one timeline of nanoseconds, and the clocks that read it.
//!
//! Every stored time in ratecell is a point on a single timeline: nanoseconds since
//! the UNIX epoch. Windows align to multiples of the period since the epoch, so that
//! snapshots and a remote store shared by many processes place every window on that
//! same timeline without storing a start per key (Python's `limits`, by contrast,
//! starts a fixed window at a key's first hit); snapshots hold absolute times that
//! keep their meaning across a restart.

use crate::sync::{Arc, AtomicU64, Ordering};
use core::time::Duration;

/// A point on the timeline, or a span of it: whole nanoseconds.
///
/// Every algorithm is exact for any reading below 2^63 ns (the year 2262).
pub type Nanos = u64;

/// A source of the current time on ratecell's timeline.
///
/// Implementations must be cheap: the limiter reads the clock once per check.
/// A clock that goes backwards is tolerated (the algorithms treat an earlier reading
/// as "no time has passed" and never refill a quota because of it), but a clock that
/// does so routinely loses the precision of its limits.
pub trait Clock: Send + Sync {
    /// The current reading, in nanoseconds on the timeline.
    fn now(&self) -> Nanos;

    /// How long a waiter must sleep, in real time, before this clock reads `at`
    /// (zero once it does). Waits (`DirectLimiter::wait` and the like) sleep for
    /// this and ask again until it is zero.
    ///
    /// The default, `at - now`, suits every clock that follows real time. A clock
    /// that does not must eventually answer zero, or a wait on it never ends:
    /// [`ManualClock`] moves itself forward to `at` and answers zero, so that waits
    /// in tests take no real time.
    fn wait_time(&self, at: Nanos) -> Duration {
        Duration::from_nanos(at.saturating_sub(self.now()))
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    #[inline]
    fn now(&self) -> Nanos {
        (**self).now()
    }
    fn wait_time(&self, at: Nanos) -> Duration {
        (**self).wait_time(at)
    }
}

impl<C: Clock + ?Sized> Clock for alloc::sync::Arc<C> {
    #[inline]
    fn now(&self) -> Nanos {
        (**self).now()
    }
    fn wait_time(&self, at: Nanos) -> Duration {
        (**self).wait_time(at)
    }
}

/// Saturating conversion; a `Duration` past 2^64 ns (584 years) is beyond the timeline.
pub(crate) fn duration_to_nanos(d: Duration) -> Nanos {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A clock that moves only when told to: the clock for tests.
///
/// It starts at 0. Clones share one time, so a test keeps a clone and moves the
/// limiter's clock with [`advance`](ManualClock::advance) and
/// [`set`](ManualClock::set), backwards too.
///
/// A wait does not sleep on it: [`Clock::wait_time`] moves the clock forward to the
/// time waited for (never back) and answers zero, so a waiter returns at once and
/// the clock reads the time it woke at.
///
/// ```
/// use ratecell::{Clock, ManualClock};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let shared = clock.clone();
/// shared.advance(Duration::from_millis(1500));
/// assert_eq!(clock.now(), 1_500_000_000);
/// shared.set(Duration::from_secs(1));
/// assert_eq!(clock.now(), 1_000_000_000);
/// ```
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    // Relaxed everywhere: the reading publishes no other memory, and tests that move
    // the clock across threads synchronize through their own joins.
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock reading 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by` (saturating at the end of the timeline).
    pub fn advance(&self, by: Duration) {
        let by = duration_to_nanos(by);
        // Relaxed: see the field comment; fetch_update keeps the add saturating.
        let _ = self
            .nanos
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                Some(t.saturating_add(by))
            });
    }

    /// Sets the clock to `to` since the start of the timeline (backwards is allowed).
    pub fn set(&self, to: Duration) {
        // Relaxed: see the field comment.
        self.nanos.store(duration_to_nanos(to), Ordering::Relaxed);
    }

    /// Sets the clock to a raw reading in nanoseconds.
    pub fn set_nanos(&self, to: Nanos) {
        // Relaxed: see the field comment.
        self.nanos.store(to, Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    #[inline]
    fn now(&self) -> Nanos {
        // Relaxed: see the field comment.
        self.nanos.load(Ordering::Relaxed)
    }

    /// Moves the clock forward to `at` if it reads less, and answers zero.
    fn wait_time(&self, at: Nanos) -> Duration {
        // Relaxed: see the field comment; fetch_max never moves the clock back.
        self.nanos.fetch_max(at, Ordering::Relaxed);
        Duration::ZERO
    }
}

#[cfg(feature = "std")]
mod quanta_clocks {
    use super::{Clock, Nanos};
    use std::sync::OnceLock;
    use std::time::{SystemTime, UNIX_EPOCH};

    /// The process-wide anchor: quanta's clock and the offset that maps its readings
    /// onto the UNIX timeline. Taken once, so that every limiter in the process (and
    /// every snapshot it writes) agrees on what "now" is.
    struct Anchor {
        clock: quanta::Clock,
        /// `unix_nanos - quanta_nanos` at the anchoring instant, mod 2^64.
        offset: u64,
        /// quanta's calibration folded into one multiplier (see [`fold`]), or 0 to
        /// let quanta scale each reading itself.
        scale: u64,
        /// For [`CoarseClock`]: the same instant as a quanta `Instant`.
        instant: quanta::Instant,
        unix: u64,
    }

    fn anchor() -> &'static Anchor {
        static ANCHOR: OnceLock<Anchor> = OnceLock::new();
        ANCHOR.get_or_init(|| {
            let clock = quanta::Clock::new();
            let raw = clock.raw();
            let instant = clock.now();
            let unix = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, super::duration_to_nanos);
            let offset = unix.wrapping_sub(clock.delta_as_nanos(0, raw));
            let scale = fold(&clock, raw);
            Anchor {
                clock,
                offset,
                scale,
                instant,
                unix,
            }
        })
    }

    /// quanta turns a counter reading into nanoseconds as `(raw * factor) >> shift`
    /// (behind a branch and a match on its clock kind, on every read). With
    /// `scale = delta_as_nanos(0, 2^63) = factor << (63 - shift)`, the same value is
    /// `(raw * scale) >> 63`, exactly: one multiply, no branch. (For a clock that
    /// already reads nanoseconds, `scale` is 2^63 and the formula is the identity.)
    /// The fold is checked against quanta on sample readings; any disagreement (a
    /// shift above 63, a factor that overflowed) returns 0 and quanta scales as
    /// before.
    fn fold(clock: &quanta::Clock, raw: u64) -> u64 {
        let scale = clock.delta_as_nanos(0, 1 << 63);
        let ours = |r: u64| ((u128::from(r) * u128::from(scale)) >> 63) as u64;
        let samples = [
            1,
            977,
            1 << 20,
            raw,
            raw.wrapping_mul(3) / 2,
            1 << 40,
            u64::MAX >> 2,
        ];
        let agrees = scale != 0
            && clock.delta_as_nanos(0, 1 << 62).checked_mul(2) == Some(scale)
            && samples
                .iter()
                .all(|&r| ours(r) == clock.delta_as_nanos(0, r));
        if agrees {
            scale
        } else {
            0
        }
    }

    #[cfg(all(test, not(loom)))]
    pub(super) fn fold_for_test(clock: &quanta::Clock) -> u64 {
        fold(clock, clock.raw())
    }

    /// The default clock: nanoseconds since the UNIX epoch, read from quanta.
    ///
    /// The system time is read once per process; after that the reading advances with
    /// quanta's monotonic counter (the TSC where it is reliable), so it never jumps
    /// when NTP or an operator moves the wall clock, and it costs a counter read and a
    /// multiply (about 8-10 ns) rather than a system call.
    #[derive(Clone, Debug)]
    pub struct DefaultClock {
        clock: quanta::Clock,
        offset: u64,
        scale: u64,
    }

    impl DefaultClock {
        /// The process-wide timeline (anchored on first use).
        pub fn new() -> Self {
            let a = anchor();
            Self {
                clock: a.clock.clone(),
                offset: a.offset,
                scale: a.scale,
            }
        }
    }

    impl Default for DefaultClock {
        fn default() -> Self {
            Self::new()
        }
    }

    impl Clock for DefaultClock {
        #[inline]
        fn now(&self) -> Nanos {
            let raw = self.clock.raw();
            let nanos = if self.scale != 0 {
                ((u128::from(raw) * u128::from(self.scale)) >> 63) as u64
            } else {
                self.clock.delta_as_nanos(0, raw)
            };
            // Wrapping: the offset is a difference taken mod 2^64; the sum lands on
            // the UNIX timeline.
            self.offset.wrapping_add(nanos)
        }
    }

    /// A cheaper, coarser clock: quanta's `recent()` reading on the same timeline.
    ///
    /// `recent()` is a plain load of a value that quanta's *upkeep thread* refreshes
    /// (see `quanta::Upkeep`); it costs about 1.5 ns instead of 8-10 ns, but it is only
    /// as fresh as the upkeep interval you chose, so limits are enforced with that much
    /// slack (a 1 ms interval means up to 1 ms of refill arrives late or early).
    /// ratecell never starts that thread itself: run it in your application. Until it
    /// runs, this clock falls back to a precise reading, so it is never frozen.
    #[derive(Clone, Debug)]
    pub struct CoarseClock {
        clock: quanta::Clock,
        instant: quanta::Instant,
        unix: u64,
    }

    impl CoarseClock {
        /// The coarse view of the process-wide timeline.
        pub fn new() -> Self {
            let a = anchor();
            Self {
                clock: a.clock.clone(),
                instant: a.instant,
                unix: a.unix,
            }
        }
    }

    impl Default for CoarseClock {
        fn default() -> Self {
            Self::new()
        }
    }

    impl Clock for CoarseClock {
        #[inline]
        fn now(&self) -> Nanos {
            let mut recent = self.clock.recent();
            if recent < self.instant {
                // No upkeep thread has published a reading yet (quanta reports 0).
                recent = self.clock.now();
            }
            let since = recent.saturating_duration_since(self.instant);
            self.unix.saturating_add(super::duration_to_nanos(since))
        }
    }
}

#[cfg(feature = "std")]
pub use quanta_clocks::{CoarseClock, DefaultClock};

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_both_ways_and_saturates() {
        let c = ManualClock::new();
        assert_eq!(c.now(), 0);
        c.advance(Duration::from_nanos(5));
        assert_eq!(c.clone().now(), 5);
        c.set(Duration::from_nanos(2));
        assert_eq!(c.now(), 2);
        c.advance(Duration::MAX);
        assert_eq!(c.now(), u64::MAX);
    }

    #[cfg(feature = "std")]
    #[test]
    fn default_clock_is_on_the_unix_timeline_and_monotonic() {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        let c = DefaultClock::new();
        let a = c.now();
        let b = c.now();
        assert!(b >= a);
        // Anchored to the system time: within a minute of the wall clock.
        assert!(a.abs_diff(duration_to_nanos(wall)) < 60_000_000_000);
        let coarse = CoarseClock::new().now();
        assert!(coarse.abs_diff(a) < 60_000_000_000);
    }

    #[cfg(feature = "std")]
    #[test]
    fn the_folded_scale_reads_exactly_what_quanta_reads() {
        let clock = quanta::Clock::new();
        let scale = quanta_clocks::fold_for_test(&clock);
        assert_ne!(scale, 0, "the fold should apply on this machine");
        let mut r: u64 = 0x9E37_79B9;
        for _ in 0..100_000 {
            r = r
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let raw = r >> (r % 23);
            assert_eq!(
                ((u128::from(raw) * u128::from(scale)) >> 63) as u64,
                clock.delta_as_nanos(0, raw)
            );
        }
    }
}

/// Without the `std` feature there is no time source to default to: choose a
/// clock with the builder's `.clock(..)`. (This placeholder is not a [`Clock`].)
#[cfg(not(feature = "std"))]
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultClock(());
