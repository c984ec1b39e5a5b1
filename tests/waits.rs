#![cfg(all(feature = "std", not(loom)))]
//! Waits by reservation: blocking and async waiters admitted in arrival order, one
//! emission interval apart, on real time; cancellation and deadlines, exactly, on
//! clocks that stand still.
//!
//! The real-time tests never bound a wait from above: they record each booking's
//! time through the clock (a waiter asks [`Clock::wait_time`] for the time it
//! booked), let each waiter arrive only once the one before has booked, and
//! assert that the bookings are in arrival order, at least one interval apart,
//! and that nobody woke before its time. The exact spacing is asserted on a
//! manual clock.

use ratecell::{Algorithm, Clock, DefaultClock, DirectLimiter, Limiter, ManualClock, Nanos, Quota};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Far longer than any step takes, so that only a hang fails a test.
const GENEROUS: Duration = Duration::from_secs(30);

/// The default clock, recording every distinct time a waiter asked to sleep until
/// (in the order asked: the booking order, when arrivals are serialized).
#[derive(Clone, Default)]
struct Recording {
    clock: Arc<DefaultClock>,
    booked: Arc<Mutex<Vec<Nanos>>>,
}

impl Recording {
    fn booked(&self) -> Vec<Nanos> {
        self.booked.lock().unwrap().clone()
    }

    /// Waits (politely) until `n` bookings were made.
    fn until_booked(&self, n: usize) {
        let start = Instant::now();
        while self.booked().len() < n {
            assert!(start.elapsed() < GENEROUS, "booking {n} never came");
            thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Clock for Recording {
    fn now(&self) -> Nanos {
        self.clock.now()
    }
    fn wait_time(&self, at: Nanos) -> Duration {
        let mut booked = self.booked.lock().unwrap();
        if !booked.contains(&at) {
            booked.push(at);
        }
        drop(booked);
        self.clock.wait_time(at)
    }
}

/// A clock that stands still, and whose waits would sleep for real: for futures
/// that are dropped while they sleep.
#[derive(Clone, Default)]
struct Still(ManualClock);

impl Clock for Still {
    fn now(&self) -> Nanos {
        self.0.now()
    }
}

const T: Duration = Duration::from_millis(40);
const T_NS: Nanos = 40_000_000;

/// 25 per second, burst 1: one every 40 ms.
fn one_per_t() -> Quota {
    Quota::per_second(25).unwrap().with_burst(1).unwrap()
}

fn paced<C: Clock>(clock: C) -> DirectLimiter<C> {
    DirectLimiter::builder(one_per_t())
        .clock(clock)
        .build()
        .unwrap()
}

/// Booked in arrival order, at least one interval apart (exactly one while the
/// queue lasts; more if a slow machine let it drain between two arrivals, so the
/// bound is only from below).
fn assert_one_interval_apart(booked: &[Nanos], n: usize) {
    assert_eq!(booked.len(), n, "{booked:?}");
    for (i, pair) in booked.windows(2).enumerate() {
        assert!(
            pair[1] >= pair[0] + T_NS,
            "waiters {i} and {} of {booked:?}",
            i + 1
        );
    }
}

#[test]
fn blocking_waiters_are_admitted_in_arrival_order_one_interval_apart() {
    const N: usize = 6;
    let clock = Recording::default();
    let lim = Arc::new(paced(clock.clone()));
    assert!(lim.check().is_allowed());
    let handles: Vec<_> = (0..N)
        .map(|i| {
            let (lim, c) = (lim.clone(), clock.clone());
            let h = thread::spawn(move || {
                let d = lim.wait();
                (d.is_allowed(), c.now())
            });
            // The next waiter arrives only once this one has booked.
            clock.until_booked(i + 1);
            h
        })
        .collect();
    let woke: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let booked = clock.booked();
    assert_one_interval_apart(&booked, N);
    for (i, (allowed, at)) in woke.into_iter().enumerate() {
        assert!(allowed);
        assert!(at >= booked[i], "waiter {i} woke before its time");
    }
}

#[test]
fn blocking_waiters_without_a_queue_are_admitted_at_once() {
    let lim = DirectLimiter::builder(Quota::per_second(5).unwrap())
        .build()
        .unwrap();
    let start = Instant::now();
    // A request that fits now is within any deadline, even one already past
    // when the booking reads the clock.
    assert!(lim.wait_within(Duration::ZERO).is_allowed());
    for _ in 0..4 {
        assert!(lim.wait().is_allowed());
    }
    assert!(!lim.wait_within(Duration::ZERO).is_allowed());
    // Only a generous bound: nothing here slept an interval.
    assert!(start.elapsed() < GENEROUS);
}

#[test]
fn keyed_blocking_waiters_queue_per_key() {
    let clock = Recording::default();
    let lim = Arc::new(
        Limiter::builder(one_per_t())
            .capacity(100)
            .clock(clock.clone())
            .build()
            .unwrap(),
    );
    assert!(lim.check("a").is_allowed());
    let handles: Vec<_> = (0..3)
        .map(|i| {
            let lim = lim.clone();
            let h = thread::spawn(move || lim.wait_key("a").is_allowed());
            clock.until_booked(i + 1);
            h
        })
        .collect();
    // Another key is not behind them.
    assert!(lim.wait_key("b").is_allowed());
    for h in handles {
        assert!(h.join().unwrap());
    }
    // The fourth time asked for is "b"'s, admitted at once.
    assert_one_interval_apart(&clock.booked()[..3], 3);
}

#[test]
fn costs_that_can_never_fit_are_refused_at_once() {
    let lim = paced(ManualClock::new());
    let e = lim.wait_n(2).unwrap_err();
    assert_eq!((e.requested, e.max), (2, 1));
    assert!(lim.wait_n_within(2, Duration::MAX).is_err());
    assert!(lim.wait_n(0).unwrap().is_allowed());
    let keyed = Limiter::builder(Quota::per_second(3).unwrap())
        .algorithm(Algorithm::FixedWindow)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    assert_eq!(keyed.wait_key_n("k", 4).unwrap_err().max, 3);
    assert!(keyed.wait_key_n("k", 3).unwrap().is_allowed());
}

#[test]
fn deadlines_refuse_without_booking() {
    let clock = ManualClock::new();
    let lim = paced(clock.clone());
    assert!(lim.check().is_allowed());
    let before = lim.peek();
    let d = lim.wait_within(T - Duration::from_nanos(1));
    assert!(!d.is_allowed());
    assert_eq!(d.retry_after(), Some(T));
    // Nothing booked, no time passed.
    assert_eq!(lim.peek(), before);
    assert_eq!(clock.now(), 0);
    assert!(lim.wait_within(T).is_allowed());
    assert_eq!(clock.now(), T_NS);

    let keyed = Limiter::builder(one_per_t())
        .clock(clock.clone())
        .capacity(10)
        .build()
        .unwrap();
    assert!(keyed.check("k").is_allowed());
    let before = keyed.peek("k");
    let d = keyed
        .wait_key_n_within("k", 1, Duration::from_millis(39))
        .unwrap();
    assert_eq!(d.retry_after(), Some(T));
    assert_eq!(keyed.peek("k"), before);
    assert!(keyed.wait_key_within("k", T).is_allowed());
    assert_eq!(clock.now(), 2 * T_NS);
}

/// On a manual clock a wait moves the clock to its wake, so each algorithm's
/// pacing reads exactly.
#[test]
fn every_algorithm_paces_its_waiters_on_a_manual_clock() {
    let cases = [
        // (algorithm, quota, the wake of each of 6 waits after a start at 10 s, in ms)
        (
            Algorithm::TokenBucket,
            "2/s",
            [0, 0, 500, 1_000, 1_500, 2_000],
        ),
        (
            Algorithm::LeakyBucket,
            "2/s",
            [0, 500, 1_000, 1_500, 2_000, 2_500],
        ),
        (
            Algorithm::FixedWindow,
            "2/s",
            [0, 0, 1_000, 1_000, 2_000, 2_000],
        ),
        (
            Algorithm::SlidingWindowLog,
            "2/s",
            [0, 0, 1_000, 1_000, 2_000, 2_000],
        ),
        // Window 11: prev = 2 weighs 2·(1 - e), so one fits from e = 0.5 and a
        // second only at window 12, where prev = 1 leaves room for one a window.
        (
            Algorithm::SlidingWindowCounter,
            "2/s",
            [0, 0, 1_500, 2_000, 3_000, 4_000],
        ),
    ];
    for (algorithm, q, wakes) in cases {
        let clock = ManualClock::new();
        clock.set(Duration::from_secs(10));
        let lim = DirectLimiter::builder(q.parse().unwrap())
            .algorithm(algorithm)
            .clock(clock.clone())
            .build()
            .unwrap();
        let got: Vec<u64> = (0..6)
            .map(|_| {
                assert!(lim.wait().is_allowed());
                (clock.now() - 10_000_000_000) / 1_000_000
            })
            .collect();
        assert_eq!(got, wakes, "{algorithm:?}");
    }
}

#[cfg(feature = "tokio")]
mod until {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn async_waiters_are_admitted_in_arrival_order_one_interval_apart() {
        const N: usize = 6;
        let clock = Recording::default();
        let lim = Arc::new(paced(clock.clone()));
        assert!(lim.check().is_allowed());
        let mut tasks = Vec::new();
        for i in 0..N {
            let (lim, c) = (lim.clone(), clock.clone());
            tasks.push(tokio::spawn(async move {
                let d = lim.until_ready().await;
                (d.is_allowed(), c.now())
            }));
            let start = Instant::now();
            while clock.booked().len() < i + 1 {
                assert!(start.elapsed() < GENEROUS, "booking {i} never came");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        let booked = clock.booked();
        assert_one_interval_apart(&booked, N);
        for (i, t) in tasks.into_iter().enumerate() {
            let (allowed, at) = t.await.unwrap();
            assert!(allowed);
            assert!(at >= booked[i], "task {i} woke before its time");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn blocking_and_async_waiters_share_one_queue() {
        let clock = Recording::default();
        let lim = Arc::new(paced(clock.clone()));
        assert!(lim.check().is_allowed());
        let blocking = {
            let lim = lim.clone();
            thread::spawn(move || lim.wait().is_allowed())
        };
        let c = clock.clone();
        tokio::task::spawn_blocking(move || c.until_booked(1))
            .await
            .unwrap();
        let task = {
            let lim = lim.clone();
            tokio::spawn(async move { lim.until_n_ready(1).await.unwrap().is_allowed() })
        };
        assert!(task.await.unwrap());
        assert!(blocking.join().unwrap());
        assert_one_interval_apart(&clock.booked(), 2);
    }

    /// DESIGN §8's waits, as written there; and their futures can be spawned.
    #[tokio::test]
    async fn the_design_snippet_compiles_and_runs() -> Result<(), Box<dyn std::error::Error>> {
        use ratecell::Decision;
        let clock = ManualClock::new();
        let one = DirectLimiter::builder(Quota::per_second(10)?)
            .clock(clock.clone())
            .build()?;
        let lim = Limiter::builder(Quota::per_second(10)?)
            .clock(clock)
            .capacity(10)
            .build()?;
        let k = "user:42";
        let d: Decision = one.wait();
        let d2 = one.wait_n(3)?;
        let d3 = one.until_ready().await;
        let d4 = one.until_n_ready(3).await?;
        assert!([d, d2, d3, d4].iter().all(Decision::is_allowed));
        assert!(one.wait_n(11).is_err() && one.until_n_ready(11).await.is_err());
        let d = lim.wait_key(&k);
        let d2 = lim.wait_key_n(&k, 3)?;
        let d3 = lim.until_key_ready(&k).await;
        let d4 = lim.until_key_n_ready(&k, 3).await?;
        assert!([d, d2, d3, d4].iter().all(Decision::is_allowed));

        fn spawnable<F: std::future::Future + Send + 'static>(_: F) {}
        let one = Arc::new(DirectLimiter::builder(Quota::per_second(10)?).build()?);
        let lim = Arc::new(Limiter::builder(Quota::per_second(10)?).build()?);
        spawnable(async move { one.until_n_ready(2).await });
        spawnable(async move { lim.until_key_ready("k").await });
        Ok(())
    }

    /// Polls a wait once (it books and goes to sleep) and drops it.
    async fn book_and_drop<F: std::future::Future>(wait: F) {
        assert!(tokio::time::timeout(Duration::ZERO, wait).await.is_err());
    }

    #[tokio::test]
    async fn a_dropped_wait_gives_its_booking_back() {
        let clock = Still::default();
        let lim = paced(clock.clone());
        assert!(lim.check().is_allowed());
        let spent = lim.peek();
        assert_eq!(spent.retry_after(), Some(T));
        book_and_drop(lim.until_ready()).await;
        assert_eq!(lim.peek(), spent);
        book_and_drop(lim.until_n_ready(1)).await;
        assert_eq!(lim.peek(), spent);
    }

    #[tokio::test]
    async fn a_dropped_wait_gives_back_only_what_no_later_booking_depends_on() {
        let clock = Still::default();
        let lim = paced(clock.clone());
        assert!(lim.check().is_allowed());
        let mut first = Box::pin(lim.until_ready());
        let mut second = Box::pin(lim.until_ready());
        // Both book: the queue is three intervals long.
        assert!(tokio::time::timeout(Duration::ZERO, &mut first)
            .await
            .is_err());
        assert!(tokio::time::timeout(Duration::ZERO, &mut second)
            .await
            .is_err());
        assert_eq!(lim.peek().retry_after(), Some(3 * T));
        // The first cannot give back under the second.
        drop(first);
        assert_eq!(lim.peek().retry_after(), Some(3 * T));
        // The second can; the first's place stays taken.
        drop(second);
        assert_eq!(lim.peek().retry_after(), Some(2 * T));
    }

    #[tokio::test]
    async fn a_dropped_keyed_wait_gives_its_booking_back() {
        let clock = Still::default();
        let lim = Limiter::builder(one_per_t())
            .clock(clock.clone())
            .capacity(10)
            .build()
            .unwrap();
        assert!(lim.check("k").is_allowed());
        let spent = lim.peek("k");
        book_and_drop(lim.until_key_ready("k")).await;
        book_and_drop(lim.until_key_n_ready("k", 1)).await;
        assert_eq!(lim.peek("k"), spent);
        // A cancel for a key evicted meanwhile changes nothing and takes no room.
        let mut w = Box::pin(lim.until_key_ready("k"));
        assert!(tokio::time::timeout(Duration::ZERO, &mut w).await.is_err());
        lim.reset("k");
        drop(w);
        assert_eq!(lim.len(), 0);
    }

    #[tokio::test]
    async fn async_deadlines_refuse_without_booking() {
        let clock = ManualClock::new();
        let lim = paced(clock.clone());
        assert!(lim.check().is_allowed());
        let before = lim.peek();
        let d = lim.until_ready_within(Duration::from_millis(39)).await;
        assert_eq!(d.retry_after(), Some(T));
        let d = lim
            .until_n_ready_within(1, Duration::from_millis(39))
            .await
            .unwrap();
        assert!(!d.is_allowed());
        assert_eq!(lim.peek(), before);
        assert_eq!(clock.now(), 0);
        // On a manual clock the wait takes no real time: the clock moves.
        assert!(lim.until_ready_within(T).await.is_allowed());
        assert_eq!(clock.now(), T_NS);

        let keyed = Limiter::builder(one_per_t())
            .clock(clock.clone())
            .capacity(10)
            .build()
            .unwrap();
        assert!(keyed.check("k").is_allowed());
        let before = keyed.peek("k");
        assert!(!keyed
            .until_key_ready_within("k", Duration::from_millis(39))
            .await
            .is_allowed());
        assert!(!keyed
            .until_key_n_ready_within("k", 1, Duration::ZERO)
            .await
            .unwrap()
            .is_allowed());
        assert_eq!(keyed.peek("k"), before);
        assert!(keyed.until_key_n_ready("k", 2).await.is_err());
    }
}
