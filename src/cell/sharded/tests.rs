//! Unit tests of the sharded token bucket on the manual clock: shard indices, lease
//! growth and expiry, and installs and checks racing resets and grants.

use super::*;
use crate::algorithm::Algorithm;
use crate::quota::Quota;

const T: Nanos = 1_000_000;

/// Burst 8, one unit per millisecond.
fn params() -> Params {
    let q = Quota::new(1_000, core::time::Duration::from_secs(1))
        .unwrap()
        .with_burst(8)
        .unwrap();
    Params::new(Algorithm::TokenBucket, &q).unwrap()
}

#[test]
fn the_shard_of_an_index_is_its_remainder() {
    let p = params();
    for n in [1, 2, 3, 5, 8, 13, 64, 100] {
        let cell = ShardedCell::new(&p, n);
        for i in (0..1_000).chain([u32::MAX as usize - 1, u32::MAX as usize]) {
            let want: *const Shard = &*cell.shards[i % n];
            assert!(core::ptr::eq(cell.shard(i), want), "{i} mod {n}");
        }
    }
}

#[test]
fn one_unit_leases_are_the_plain_limiter() {
    let p = params();
    let cell = ShardedCell::new(&p, 4);
    let mut plain = 0;
    for now in (0..40 * T).step_by(T as usize / 3) {
        let d = cell.check(&p, now, (now / 7) as usize);
        let (next, want) = gcra::decide(&p, plain, now, 1);
        assert_eq!(d.is_allowed(), want.is_allowed(), "at {now}");
        assert_eq!(d.retry_after(), want.retry_after(), "at {now}");
        if let Some(next) = next {
            plain = next;
        }
    }
}

#[test]
fn a_quiet_shards_units_expire_and_reach_the_others() {
    let p = params();
    let cell = ShardedCell::new(&p, 2);
    assert_eq!(cell.cap, 2, "half the burst over two shards");
    cell.shards[0].size.store(2, Ordering::Relaxed);
    assert!(cell.check(&p, 0, 0).is_allowed());
    assert_eq!(cell.held(0, &p), 1, "a lease of 2: one used, one held");
    // Shard 1 gets the rest of the bucket, one unit at a time: 8 - 2.
    let taken = (0..10)
        .filter(|_| cell.check(&p, 0, 1).is_allowed())
        .count();
    assert_eq!(taken, 6);
    // Shard 0 goes quiet; its held unit (slot T) expires once T has passed,
    // and the bucket refills for shard 1 as for the plain limiter.
    let later = 4 * T + 1;
    let plain_refill = gcra::lease(&p, 8 * T, later, 8).map_or(0, |l| l.2);
    let taken = (0..10)
        .filter(|_| cell.check(&p, later, 1).is_allowed())
        .count();
    assert_eq!(taken as u64, plain_refill);
    assert_eq!(plain_refill, 4);
    // Shard 0's expired unit is gone, not admitted late.
    assert!(!cell.check(&p, later, 0).is_allowed());
}

/// The ABA of a reset: thread X finds its shard's lease exhausted and takes a
/// new one from the shared word; a reset empties everything; thread Y takes a
/// post-reset lease and spends it back to the very value X read; X installs.
/// After the reset, exactly the burst is admitted, not X's units on top.
#[test]
fn an_install_never_succeeds_against_a_recurring_exhausted_lease() {
    let q = Quota::new(4, core::time::Duration::from_millis(4))
        .unwrap()
        .with_burst(4)
        .unwrap();
    let p = Params::new(Algorithm::TokenBucket, &q).unwrap();
    let cell = ShardedCell::new(&p, 1);
    assert_eq!(cell.cap, 2);
    cell.shards[0].size.store(2, Ordering::Relaxed);
    let now = 10;
    // A lease of 2, spent: the shard holds {now + 2T, now + 2T}.
    assert!(cell.check(&p, now, 0).is_allowed());
    assert!(cell.check(&p, now, 0).is_allowed());
    let exhausted = cell.shards[0].lease.load(Ordering::Relaxed);
    assert_eq!(
        Lease::unpack(exhausted),
        Lease {
            next: now + 2 * T,
            end: now + 2 * T
        }
    );
    // X: no unit left, so it takes a lease from the shared word.
    let shard = &*cell.shards[0];
    let w = cell.spend(&p, now, shard).unwrap_err();
    let (d, held) = cell.lease_from_shared(&p, now, shard, 2);
    assert!(d.is_allowed());
    let held = held.unwrap();
    // A reset, then Y spends a post-reset lease back to the same value.
    cell.reset();
    let mut after = (0..2)
        .filter(|_| cell.check(&p, now, 0).is_allowed())
        .count();
    assert_eq!(cell.shards[0].lease.load(Ordering::Relaxed), exhausted);
    // X installs its pre-reset lease.
    install(shard, w, held);
    after += (0..10)
        .filter(|_| cell.check(&p, now, 0).is_allowed())
        .count();
    assert_eq!(after, 4, "the burst after the reset, and no more");
}

#[test]
fn a_check_read_before_its_lease_was_granted_is_denied_not_served() {
    let p = params();
    let cell = ShardedCell::new(&p, 1);
    cell.shards[0].size.store(4, Ordering::Relaxed);
    // Two leases of 4 drain the burst of 8 at time 0: the shared TAT is 8T.
    let admitted = (0..8).filter(|_| cell.check(&p, 0, 0).is_allowed()).count();
    assert_eq!(admitted, 8);
    // At 2T the slots up to 2T + tau = 9T are due: a lease of 8T and 9T, the
    // first spent at once.
    assert!(cell.check(&p, 2 * T, 0).is_allowed());
    let held = cell.shards[0].lease.load(Ordering::Relaxed);
    assert_eq!(
        Lease::unpack(held),
        Lease {
            next: 9 * T,
            end: 10 * T
        }
    );
    // A check whose clock read 0 before that grant: slot 9T is not due at 0
    // (the plain limiter denies at 0 too), so it is denied and the lease kept.
    let d = cell.check(&p, 0, 0);
    assert!(!d.is_allowed());
    assert_eq!(d.retry_after, 2 * T);
    assert!(!cell.peek(&p, 0, 0, 1).is_allowed());
    assert_eq!(cell.shards[0].lease.load(Ordering::Relaxed), held);
    assert!(cell.check(&p, 2 * T, 0).is_allowed());
}

#[test]
fn leases_grow_only_to_the_cap_and_reset_drops_them() {
    let p = params();
    let cell = ShardedCell::new(&p, 1);
    assert_eq!(cell.cap, 4);
    cell.shards[0].size.store(1_000, Ordering::Relaxed);
    assert!(cell.check(&p, 0, 0).is_allowed());
    assert_eq!(cell.held(0, &p), 3, "capped at 4");
    cell.reset();
    assert_eq!(cell.held(0, &p), 0);
    assert_eq!(cell.shared_state(), 0);
    let taken = (0..20)
        .filter(|_| cell.check(&p, 0, 0).is_allowed())
        .count();
    assert_eq!(taken, 8, "the whole burst again, and no more");
}
