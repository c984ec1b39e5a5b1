#![cfg(feature = "std")]
//! `ConcurrencyLimiter` on real threads: the bound, permits given back on drop,
//! owned permits, and blocked acquires woken by releases.

use ratecell::{BuildError, ConcurrencyLimiter};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::Duration;

/// Far longer than any wake-up takes, so that only a lost wake-up fails a test.
const GENEROUS: Duration = Duration::from_secs(5);

#[test]
fn zero_permits_is_refused() {
    assert_eq!(
        ConcurrencyLimiter::new(0).unwrap_err(),
        BuildError::ZeroPermits
    );
    let too_many = ConcurrencyLimiter::MAX_PERMITS + 1;
    assert_eq!(
        ConcurrencyLimiter::new(too_many).unwrap_err(),
        BuildError::TooManyPermits(too_many)
    );
    let c = ConcurrencyLimiter::new(ConcurrencyLimiter::MAX_PERMITS).unwrap();
    assert_eq!(c.max(), ConcurrencyLimiter::MAX_PERMITS);
}

#[test]
fn try_acquire_stops_at_max_and_drop_gives_back() {
    let c = ConcurrencyLimiter::new(3).unwrap();
    let permits: Vec<_> = (0..3).map(|_| c.try_acquire().unwrap()).collect();
    assert_eq!(c.in_flight(), 3);
    assert!(c.try_acquire().is_none());
    assert_eq!(c.in_flight(), 3);
    drop(permits);
    assert_eq!(c.in_flight(), 0);
    let p = c.acquire();
    assert_eq!(c.in_flight(), 1);
    drop(p);
    assert_eq!(c.in_flight(), 0);
}

#[test]
fn bound_holds_with_eight_threads() {
    const MAX: u32 = 3;
    const ROUNDS: usize = 2_000;
    let c = ConcurrencyLimiter::new(MAX).unwrap();
    let now = AtomicU32::new(0);
    let peak = AtomicU32::new(0);
    thread::scope(|s| {
        for t in 0..8 {
            let (c, now, peak) = (&c, &now, &peak);
            s.spawn(move || {
                for i in 0..ROUNDS {
                    // Half blocking, half spinning on try_acquire: both paths race.
                    let permit = if (t + i) % 2 == 0 {
                        c.acquire()
                    } else {
                        loop {
                            if let Some(p) = c.try_acquire() {
                                break p;
                            }
                            thread::yield_now();
                        }
                    };
                    // SeqCst (here and below): test bookkeeping; permits order the holders.
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(n, Ordering::SeqCst);
                    assert!(n <= MAX, "{n} in flight, max {MAX}");
                    if i % 64 == 0 {
                        thread::sleep(Duration::from_micros(50));
                    } else {
                        thread::yield_now();
                    }
                    // SeqCst: test bookkeeping; the permit is what orders the holders.
                    now.fetch_sub(1, Ordering::SeqCst);
                    drop(permit);
                }
            });
        }
    });
    assert_eq!(c.in_flight(), 0);
    assert_eq!(
        // SeqCst: read after every thread joined; any order would do.
        peak.load(Ordering::SeqCst),
        MAX,
        "the limit was never reached"
    );
}

#[test]
fn owned_permits_move_into_threads() {
    let c = Arc::new(ConcurrencyLimiter::new(2).unwrap());
    let a = c.try_acquire_owned().unwrap();
    let b = c.acquire_owned();
    assert!(c.try_acquire_owned().is_none());
    assert!(Arc::ptr_eq(a.limiter(), &c));
    let handles: Vec<_> = [a, b]
        .into_iter()
        .map(|p| thread::spawn(move || drop(p)))
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(c.in_flight(), 0);
}

/// A thread blocked in `acquire` wakes on each release, 200 times in a row.
#[test]
fn blocked_acquire_wakes_on_release_200_times() {
    let c = Arc::new(ConcurrencyLimiter::new(1).unwrap());
    let (to_waiter, waiter_rx) = mpsc::channel::<()>();
    let (to_main, main_rx) = mpsc::channel::<()>();
    let waiting = Arc::new(AtomicBool::new(false));
    let waiter = {
        let (c, waiting) = (Arc::clone(&c), Arc::clone(&waiting));
        thread::spawn(move || {
            while waiter_rx.recv().is_ok() {
                // SeqCst: a test flag; its order is not what is under test.
                waiting.store(true, Ordering::SeqCst);
                let p = c.acquire();
                to_main.send(()).unwrap();
                drop(p);
            }
        })
    };
    for round in 0..200 {
        let held = c.try_acquire().expect("free between rounds");
        // SeqCst: a test flag; its order is not what is under test.
        waiting.store(false, Ordering::SeqCst);
        to_waiter.send(()).unwrap();
        // Let the waiter get into `acquire` (usually asleep) before releasing.
        // SeqCst: a test flag; its order is not what is under test.
        while !waiting.load(Ordering::SeqCst) {
            thread::yield_now();
        }
        thread::sleep(Duration::from_micros(200));
        drop(held);
        main_rx
            .recv_timeout(GENEROUS)
            .unwrap_or_else(|_| panic!("round {round}: blocked acquire not woken"));
        // The waiter drops its permit right after telling us; wait for that.
        while c.in_flight() != 0 {
            thread::yield_now();
        }
    }
    drop(to_waiter);
    waiter.join().unwrap();
}

/// Several sleepers and several permits coming back at once: every sleeper wakes.
#[test]
fn many_sleepers_all_wake() {
    const MAX: u32 = 2;
    const SLEEPERS: usize = 6;
    let c = ConcurrencyLimiter::new(MAX).unwrap();
    let held: Vec<_> = (0..MAX).map(|_| c.acquire()).collect();
    let start = Barrier::new(SLEEPERS + 1);
    let (done_tx, done_rx) = mpsc::channel();
    thread::scope(|s| {
        for _ in 0..SLEEPERS {
            let (c, start, done_tx) = (&c, &start, done_tx.clone());
            s.spawn(move || {
                start.wait();
                let p = c.acquire();
                thread::sleep(Duration::from_millis(1));
                drop(p);
                done_tx.send(()).unwrap();
            });
        }
        start.wait();
        thread::sleep(Duration::from_millis(20));
        drop(held);
        for i in 0..SLEEPERS {
            done_rx
                .recv_timeout(GENEROUS)
                .unwrap_or_else(|_| panic!("sleeper {i} of {SLEEPERS} never woke"));
        }
    });
    assert_eq!(c.in_flight(), 0);
}

#[cfg(feature = "tokio")]
mod async_waits {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn acquire_async_waits_for_a_release() {
        let c = Arc::new(ConcurrencyLimiter::new(1).unwrap());
        let held = c.acquire_async().await;
        let waiter = {
            let c = Arc::clone(&c);
            tokio::spawn(async move {
                let p = c.acquire_owned_async().await;
                assert_eq!(p.limiter().in_flight(), 1);
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        drop(held);
        tokio::time::timeout(GENEROUS, waiter)
            .await
            .expect("async waiter not woken")
            .unwrap();
        assert_eq!(c.in_flight(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn async_bound_holds_and_cancel_holds_nothing() {
        const MAX: u32 = 2;
        let c = Arc::new(ConcurrencyLimiter::new(MAX).unwrap());
        let now = Arc::new(AtomicU32::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (c, now) = (Arc::clone(&c), Arc::clone(&now));
                tokio::spawn(async move {
                    for _ in 0..50 {
                        let _p = c.acquire_async().await;
                        // SeqCst: test bookkeeping; the permit is what orders the holders.
                        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                        assert!(n <= MAX);
                        tokio::task::yield_now().await;
                        // SeqCst: test bookkeeping; the permit is what orders the holders.
                        now.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in tasks {
            tokio::time::timeout(GENEROUS, t).await.unwrap().unwrap();
        }
        // A wait cancelled while full leaves the count alone.
        let _a = c.try_acquire().unwrap();
        let _b = c.try_acquire().unwrap();
        let cancelled = tokio::time::timeout(Duration::from_millis(10), c.acquire_async()).await;
        assert!(cancelled.is_err());
        assert_eq!(c.in_flight(), MAX);
    }

    /// Blocking threads and async tasks wait on the same limiter.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn threads_and_tasks_share_the_limit() {
        let c = Arc::new(ConcurrencyLimiter::new(1).unwrap());
        let held = c.try_acquire_owned().unwrap();
        let thread = {
            let c = Arc::clone(&c);
            thread::spawn(move || drop(c.acquire()))
        };
        let task = {
            let c = Arc::clone(&c);
            tokio::spawn(async move { drop(c.acquire_async().await) })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(held);
        tokio::time::timeout(GENEROUS, task).await.unwrap().unwrap();
        let joined = tokio::task::spawn_blocking(move || thread.join());
        tokio::time::timeout(GENEROUS, joined)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(c.in_flight(), 0);
    }
}
