#![cfg(loom)]
//! loom models of `ConcurrencyLimiter`: the bound, and no lost wake-up between a
//! blocked `acquire` and the release it waits for.
//!
//! Run (without `--cfg loom` this file is empty):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom \
//!     cargo test --release --test loom_concurrency
//! ```
//!
//! loom has no futex: under `--cfg loom` the crate's sync shim models the wait and
//! the wake with a loom mutex and condvar per word, so a sleeper that no release
//! wakes stays blocked, and loom fails the model with a deadlock. Every model
//! below ends with all its threads joined, so a lost wake-up cannot pass: a release
//! that wakes nobody fails the first three models, and one that wakes a single
//! sleeper instead of all of them fails `two_releases_wake_two_sleepers`.

use loom::sync::atomic::{AtomicU32, Ordering};
use loom::sync::Arc;
use loom::thread;
use ratecell::ConcurrencyLimiter;

/// Holds a permit for one step, checking that at most `max` are held meanwhile.
fn hold(c: &ConcurrencyLimiter, inside: &AtomicU32, max: u32) {
    let p = c.acquire();
    // Relaxed: the count is the checked thing; the permit orders the holders.
    let n = inside.fetch_add(1, Ordering::Relaxed) + 1;
    assert!(n <= max, "{n} holders, max {max}");
    inside.fetch_sub(1, Ordering::Relaxed);
    drop(p);
}

/// One permit, two threads that block for it: both get it, one at a time.
#[test]
fn two_blocking_acquires_of_one_permit() {
    loom::model(|| {
        let c = Arc::new(ConcurrencyLimiter::new(1).unwrap());
        let inside = Arc::new(AtomicU32::new(0));
        let other = {
            let (c, inside) = (c.clone(), inside.clone());
            thread::spawn(move || hold(&c, &inside, 1))
        };
        hold(&c, &inside, 1);
        other.join().unwrap();
        assert_eq!(c.in_flight(), 0);
    });
}

/// A thread asleep on a full limiter is woken by the release.
#[test]
fn release_wakes_a_blocked_acquire() {
    loom::model(|| {
        let c = Arc::new(ConcurrencyLimiter::new(1).unwrap());
        let held = c.try_acquire().unwrap();
        let waiter = {
            let c = c.clone();
            thread::spawn(move || {
                let p = c.acquire();
                assert_eq!(c.in_flight(), 1);
                drop(p);
            })
        };
        drop(held);
        waiter.join().unwrap();
        assert_eq!(c.in_flight(), 0);
    });
}

/// Two sleepers and two permits given back at once: both sleepers wake. This is
/// the case a single waiters bit with a wake of one sleeper gets wrong.
#[test]
fn two_releases_wake_two_sleepers() {
    loom::model(|| {
        let c = Arc::new(ConcurrencyLimiter::new(2).unwrap());
        let inside = Arc::new(AtomicU32::new(0));
        let a = c.try_acquire().unwrap();
        let b = c.try_acquire().unwrap();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let (c, inside) = (c.clone(), inside.clone());
                thread::spawn(move || hold(&c, &inside, 2))
            })
            .collect();
        drop(a);
        drop(b);
        for w in waiters {
            w.join().unwrap();
        }
        assert_eq!(c.in_flight(), 0);
    });
}

/// A blocking acquire racing a `try_acquire` and two releases on one permit.
#[test]
fn try_acquire_races_a_sleeper() {
    loom::model(|| {
        let c = Arc::new(ConcurrencyLimiter::new(1).unwrap());
        let held = c.try_acquire().unwrap();
        let sleeper = {
            let c = c.clone();
            thread::spawn(move || drop(c.acquire()))
        };
        let trier = {
            let c = c.clone();
            thread::spawn(move || c.try_acquire().is_some())
        };
        drop(held);
        sleeper.join().unwrap();
        trier.join().unwrap();
        assert_eq!(c.in_flight(), 0);
    });
}

/// A `try_acquire` (which takes by an add and takes it back when it overshoots)
/// racing a blocking acquire and a release on one permit: never two holders, and
/// the sleeper is woken whichever of the release and the take-back comes last.
#[test]
fn phantom_permits_keep_the_bound_and_wake_the_sleeper() {
    loom::model(|| {
        let c = Arc::new(ConcurrencyLimiter::new(1).unwrap());
        let inside = Arc::new(AtomicU32::new(1));
        let held = c.try_acquire().unwrap();
        let sleeper = {
            let (c, inside) = (c.clone(), inside.clone());
            thread::spawn(move || hold(&c, &inside, 1))
        };
        let trier = {
            let (c, inside) = (c.clone(), inside.clone());
            thread::spawn(move || {
                if let Some(p) = c.try_acquire() {
                    // Relaxed: the count is the checked thing, as in `hold`.
                    let n = inside.fetch_add(1, Ordering::Relaxed) + 1;
                    assert!(n <= 1, "{n} holders, max 1");
                    inside.fetch_sub(1, Ordering::Relaxed);
                    drop(p);
                }
            })
        };
        // Relaxed: as in `hold`.
        inside.fetch_sub(1, Ordering::Relaxed);
        drop(held);
        sleeper.join().unwrap();
        trier.join().unwrap();
        assert_eq!(c.in_flight(), 0);
    });
}
