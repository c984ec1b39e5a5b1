//! Loom models of leases racing resets and each other.

use super::*;
use crate::algorithm::Algorithm;
use crate::quota::Quota;
use loom::sync::Arc;
use loom::thread;

/// Burst 3, leases of 2 units preset: two threads checking twice each, on
/// their own shards or on one, admit exactly the burst while the clock stands
/// still (a lease never adds a unit, and a dropped install only when two
/// leases of 2 meet, which a burst of 3 rules out).
fn two_threads(shard_of_second: usize) {
    loom::model(move || {
        let q = Quota::new(3, core::time::Duration::from_secs(3)).unwrap();
        let p = Params::new(Algorithm::TokenBucket, &q).unwrap();
        let mut cell = ShardedCell::new(&p, 2);
        cell.cap = 2;
        for s in cell.shards.iter() {
            s.size.store(2, Ordering::Relaxed);
        }
        let cell = Arc::new(cell);
        let other = {
            let cell = cell.clone();
            thread::spawn(move || {
                (0..2)
                    .filter(|_| cell.check(&p, 10, shard_of_second).is_allowed())
                    .count()
            })
        };
        let mine = (0..2)
            .filter(|_| cell.check(&p, 10, 0).is_allowed())
            .count();
        assert_eq!(mine + other.join().unwrap(), 3);
    });
}

/// A lease taken before a reset is never installed after it: once the reset is
/// done, the shard holds nothing older than the fresh bucket, so three checks
/// admit at most the burst of 2.
#[test]
fn a_reset_racing_a_lease_leaves_no_stale_units() {
    loom::model(|| {
        let q = Quota::new(2, core::time::Duration::from_secs(2)).unwrap();
        let p = Params::new(Algorithm::TokenBucket, &q).unwrap();
        let mut cell = ShardedCell::new(&p, 1);
        cell.cap = 2;
        cell.shards[0].size.store(2, Ordering::Relaxed);
        let cell = Arc::new(cell);
        let resetter = {
            let cell = cell.clone();
            thread::spawn(move || cell.reset())
        };
        let first = cell.check(&p, 10, 0).is_allowed();
        let mid_shared = cell.shared_state();
        let mid_lease = Lease::unpack(cell.shards[0].lease.load(Ordering::Relaxed));
        resetter.join().unwrap();
        let shared = cell.shared_state();
        let lease = Lease::unpack(cell.shards[0].lease.load(Ordering::Relaxed));
        let after = (0..3)
            .filter(|_| cell.check(&p, 10, 0).is_allowed())
            .count();
        assert!(
            after <= 2,
            "{after} admitted after the reset (first {first}, shared {shared}, lease {lease:?}, mid {mid_shared} {mid_lease:?})"
        );
    });
}

/// The ABA of a reset: a thread whose shard's lease is exhausted takes a new
/// one while this thread resets and spends a post-reset lease back to the same
/// value; the stale lease is never installed, so what this thread admits after
/// its reset is at most the burst of 4.
#[test]
fn a_stale_lease_is_not_installed_over_a_recurring_value() {
    loom::model(|| {
        let q = Quota::new(4, core::time::Duration::from_secs(4)).unwrap();
        let p = Params::new(Algorithm::TokenBucket, &q).unwrap();
        let mut cell = ShardedCell::new(&p, 1);
        cell.cap = 2;
        cell.shards[0].size.store(2, Ordering::Relaxed);
        // A lease of 2, spent before the threads start.
        assert!(cell.check(&p, 10, 0).is_allowed());
        assert!(cell.check(&p, 10, 0).is_allowed());
        let cell = Arc::new(cell);
        let x = {
            let cell = cell.clone();
            thread::spawn(move || cell.check(&p, 10, 0).is_allowed())
        };
        cell.reset();
        let mut after = (0..2)
            .filter(|_| cell.check(&p, 10, 0).is_allowed())
            .count();
        x.join().unwrap();
        after += (0..6)
            .filter(|_| cell.check(&p, 10, 0).is_allowed())
            .count();
        assert!(after <= 4, "{after} admitted after the reset");
    });
}

#[test]
fn two_threads_on_their_own_shards_admit_exactly_the_burst() {
    two_threads(1);
}

#[test]
fn two_threads_on_one_shard_admit_exactly_the_burst() {
    two_threads(0);
}
