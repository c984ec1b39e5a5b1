#![cfg(all(feature = "std", not(loom)))]
//! `KeyedConcurrencyLimiter` on real threads: the per-key bound, permits given
//! back on drop, and a full table refusing new keys without losing anyone's
//! permits.

use ratecell::{BuildError, ConcurrencyLimiter, KeyedConcurrencyLimiter};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

#[test]
fn bad_settings_are_refused() {
    assert_eq!(
        KeyedConcurrencyLimiter::new(0, 10).unwrap_err(),
        BuildError::ZeroPermits
    );
    assert_eq!(
        KeyedConcurrencyLimiter::new(1, 0).unwrap_err(),
        BuildError::ZeroCapacity
    );
    let too_many = ConcurrencyLimiter::MAX_PERMITS + 1;
    assert_eq!(
        KeyedConcurrencyLimiter::new(too_many, 10).unwrap_err(),
        BuildError::TooManyPermits(too_many)
    );
    assert!(matches!(
        KeyedConcurrencyLimiter::new(1, usize::MAX).unwrap_err(),
        BuildError::CapacityTooLarge(_)
    ));
}

#[test]
fn each_key_has_its_own_bound_and_drop_gives_back() {
    let c = KeyedConcurrencyLimiter::new(2, 1_000).unwrap();
    let a: Vec<_> = (0..2).map(|_| c.try_acquire("a").unwrap()).collect();
    assert!(c.try_acquire("a").is_none());
    let b = c.try_acquire("b").unwrap();
    assert_eq!(
        (c.in_flight("a"), c.in_flight("b"), c.in_flight("c")),
        (2, 1, 0)
    );
    drop(a);
    assert_eq!(c.in_flight("a"), 0);
    drop(b);
    assert_eq!(c.in_flight("b"), 0);
    // Keys come and go without using up room.
    for i in 0..100_000u64 {
        let p = c
            .try_acquire(&i)
            .expect("room: every earlier key gave its permit back");
        drop(p);
    }
}

/// 8 threads take and give back permits of one key (max 3) and of their own keys:
/// at no moment do more than 3 hold the shared key, and every count ends at 0.
#[test]
fn the_bound_holds_under_contention() {
    const THREADS: usize = 8;
    const ROUNDS: usize = 20_000;
    let c = Arc::new(KeyedConcurrencyLimiter::new(3, 1_000).unwrap());
    let holders = Arc::new(AtomicU32::new(0));
    let most = Arc::new(AtomicU32::new(0));
    let start = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (c, holders, most, start) =
                (c.clone(), holders.clone(), most.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                let mut got = 0;
                for _ in 0..ROUNDS {
                    if let Some(p) = c.try_acquire("shared") {
                        // Relaxed: a count of holders; the permit orders the rest.
                        let now = holders.fetch_add(1, Ordering::Relaxed) + 1;
                        most.fetch_max(now, Ordering::Relaxed);
                        let own = c.try_acquire(&t).expect("a key of its own");
                        holders.fetch_sub(1, Ordering::Relaxed);
                        drop((own, p));
                        got += 1;
                    }
                }
                got
            })
        })
        .collect();
    let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(total > 0);
    assert!(most.load(Ordering::Relaxed) <= 3);
    assert_eq!(c.in_flight("shared"), 0);
    for t in 0..THREADS {
        assert_eq!(c.in_flight(&t), 0);
    }
}

/// Hold a permit for new keys until one is refused: the table is full of keys
/// with permits out. Every held permit is still counted on its own key, and once
/// they come back the refused key gets room.
#[test]
fn a_full_table_refuses_new_keys_and_loses_no_permit() {
    let c = KeyedConcurrencyLimiter::new(1, 100).unwrap();
    let bytes = c.memory_bytes();
    let mut held = Vec::new();
    let refused = (0u64..).find(|&k| match c.try_acquire(&k) {
        Some(p) => {
            held.push((k, p));
            false
        }
        None => true,
    });
    let refused = refused.unwrap();
    assert!(held.len() >= 100, "held only {}", held.len());
    for (k, _) in &held {
        assert_eq!(c.in_flight(k), 1);
    }
    assert!(c.try_acquire(&refused).is_none());
    assert_eq!(c.memory_bytes(), bytes);
    drop(held);
    assert!(c.try_acquire(&refused).is_some());
}

#[test]
fn owned_permits_move_into_threads() {
    let c = Arc::new(KeyedConcurrencyLimiter::new(1, 100).unwrap());
    let p = c.try_acquire_owned("k").unwrap();
    assert!(c.try_acquire("k").is_none());
    assert!(Arc::ptr_eq(p.limiter(), &c));
    thread::spawn(move || drop(p)).join().unwrap();
    assert_eq!(c.in_flight("k"), 0);
}
