//! The seed's backend contract on `MemoryStore`: each operation's semantics, TTLs
//! on a manual clock, and concurrent increments that lose nothing.

#![cfg(not(loom))]

use ratecell::store::{Backend, BackendError, MemoryStore};
use ratecell::{FullPolicy, ManualClock};
use std::sync::Arc;
use std::time::Duration;

fn store(capacity: usize) -> (MemoryStore<ManualClock>, ManualClock) {
    let clock = ManualClock::new();
    clock.set(Duration::from_secs(1_000));
    (
        MemoryStore::with_clock(capacity, clock.clone()).unwrap(),
        clock,
    )
}

#[test]
fn get_set_delete_exists() {
    let (s, _) = store(100);
    assert_eq!(s.get("a").unwrap(), None);
    assert!(!s.exists("a").unwrap());
    s.set("a", 7, None).unwrap();
    assert_eq!(s.get("a").unwrap(), Some(7));
    assert!(s.exists("a").unwrap());
    s.set("a", 9, None).unwrap(); // replaces
    assert_eq!(s.get("a").unwrap(), Some(9));
    s.set("zero", 0, None).unwrap(); // a stored zero is a value, not an absence
    assert_eq!(s.get("zero").unwrap(), Some(0));
    assert!(s.delete("a").unwrap());
    assert!(!s.delete("a").unwrap());
    assert_eq!(s.get("a").unwrap(), None);
    assert_eq!(
        s.set("big", u64::from(u32::MAX) + 1, None),
        Err(BackendError::ValueTooLarge)
    );
    assert_eq!(
        s.set("ttl0", 1, Some(Duration::ZERO)),
        Err(BackendError::ZeroTtl)
    );
}

#[test]
fn ttls_round_up_to_whole_seconds_and_expire() {
    let (s, clock) = store(100);
    s.set("k", 1, Some(Duration::from_millis(1_500))).unwrap();
    clock.advance(Duration::from_millis(1_999));
    assert_eq!(s.get("k").unwrap(), Some(1), "1.5 s rounds up to 2 s");
    clock.advance(Duration::from_millis(1));
    assert_eq!(s.get("k").unwrap(), None);
    assert!(!s.exists("k").unwrap());
    assert!(
        !s.delete("k").unwrap(),
        "an expired key is not deleted: it was gone"
    );
}

#[test]
fn increment_creates_with_ttl_and_keeps_an_existing_expiry() {
    let (s, clock) = store(100);
    let window = Some(Duration::from_secs(10));
    assert_eq!(s.increment("c", 1, window).unwrap(), 1);
    clock.advance(Duration::from_secs(6));
    // The TTL given here does not extend the counter's life.
    assert_eq!(
        s.increment("c", 5, Some(Duration::from_secs(100))).unwrap(),
        6
    );
    clock.advance(Duration::from_secs(4));
    assert_eq!(s.get("c").unwrap(), None);
    assert_eq!(s.increment("c", 2, window).unwrap(), 2, "a new window");
    s.set("m", u64::from(u32::MAX) - 1, None).unwrap();
    assert_eq!(s.increment("m", 1, None).unwrap(), u64::from(u32::MAX));
    assert_eq!(s.increment("m", 1, None), Err(BackendError::Overflow));
    assert_eq!(
        s.get("m").unwrap(),
        Some(u64::from(u32::MAX)),
        "a failed increment changes nothing"
    );
}

#[test]
fn clear_and_close() {
    let (s, _) = store(100);
    for i in 0..50u32 {
        s.set(&i, u64::from(i), None).unwrap();
    }
    s.clear().unwrap();
    assert!((0..50u32).all(|i| s.get(&i).unwrap().is_none()));
    s.close().unwrap();
    s.close().unwrap();
}

#[test]
fn a_full_store_evicts_or_refuses_by_policy() {
    let clock = ManualClock::new();
    let evicting = MemoryStore::with_clock(1, clock.clone()).unwrap();
    let refusing = MemoryStore::with_clock(1, clock.clone())
        .unwrap()
        .with_full_policy(FullPolicy::Deny);
    let slots = 1024 * 8; // the smallest table
    let mut refused = 0;
    for i in 0..(slots as u64 * 2) {
        evicting.set(&i, 1, None).unwrap();
        match refusing.set(&i, 1, None) {
            Ok(()) => {}
            Err(BackendError::Full) => refused += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(refused >= slots);
    assert_eq!(evicting.memory_bytes(), refusing.memory_bytes());
}

#[test]
fn concurrent_increments_lose_nothing() {
    let (s, _) = store(10_000);
    let s = Arc::new(s);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || {
                let mut last = [0u64; 8];
                for _ in 0..20_000 {
                    for (k, last) in last.iter_mut().enumerate() {
                        let v = s.increment(&k, 1, None).unwrap();
                        // Each caller sees its own counter only grow.
                        assert!(v > *last);
                        *last = v;
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for k in 0..8usize {
        assert_eq!(s.get(&k).unwrap(), Some(80_000));
    }
}

/// Expiries are whole seconds in 32 bits: a time-to-live that ends past that range
/// is refused with a typed error, never stored dead on arrival.
#[test]
fn expiries_past_the_range_are_refused_not_lost() {
    let clock = ManualClock::new();
    let s = MemoryStore::with_clock(100, clock.clone()).unwrap();
    let last = u64::from(u32::MAX) - 1; // the last whole second an expiry can name
    clock.set(Duration::from_secs(last - 10));
    s.set("a", 1, Some(Duration::from_secs(10))).unwrap();
    assert_eq!(s.get("a").unwrap(), Some(1));
    assert_eq!(
        s.set("b", 1, Some(Duration::from_secs(11))),
        Err(BackendError::ExpiryOutOfRange)
    );
    clock.set(Duration::from_secs(4_294_967_293));
    assert_eq!(
        s.increment("n", 1, Some(Duration::from_secs(60))),
        Err(BackendError::ExpiryOutOfRange)
    );
    assert_eq!(
        s.set("c", 5, Some(Duration::from_secs(2))),
        Err(BackendError::ExpiryOutOfRange)
    );
    assert_eq!(s.get("c").unwrap(), None);
    s.set("c", 5, Some(Duration::from_secs(1))).unwrap();
    assert_eq!(s.get("c").unwrap(), Some(5));
    // Without a time-to-live the whole timeline works.
    clock.set(Duration::from_nanos(i64::MAX as u64));
    s.set("forever", 7, None).unwrap();
    assert_eq!(s.increment("forever", 1, None).unwrap(), 8);
    assert_eq!(s.get("forever").unwrap(), Some(8));
}
