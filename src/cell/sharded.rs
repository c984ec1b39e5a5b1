//! A token bucket shared by many threads without sharing one cache line per check:
//! each thread draws from a lease of units, taken from the shared GCRA word in one
//! compare-exchange, in a cache-padded shard of its own.
//!
//! # Why it never admits more than the plain limiter
//!
//! A lease of `g` units is the GCRA admission of `g` at once: it moves the shared
//! TAT from `start = max(TAT, now)` to `start + g·T`, and unit `j` of it owns the
//! slot `start + j·T` of the schedule. Slots are therefore distinct and at least
//! `T` apart across all leases, and each is conformant when granted
//! (`slot - tau <= grant time`). A shard spends a unit at time `u` on the slot
//! `max(next, u)` and moves `next` one interval past it, while a whole interval
//! of the lease is left, so its slots stay `T` apart, inside the lease, and never
//! earlier than their use (`u <= slot`). It spends one only if the slot is also
//! conformant at `u` itself (`slot <= u + tau`): a check whose clock read came
//! before the grant (its thread was delayed in between) is denied instead, so
//! conformance at the grant time is never lent to an earlier `u`. So every
//! admission in an
//! interval `[a, b]` owns a slot in `[a, b + tau]`, and at most
//! `floor((b - a + tau) / T) + 1` slots fit there: the plain limiter's own bound.
//! (`tests/sharded.rs` replays every admission through the plain GCRA.)
//!
//! A reset empties every lease, so a lease taken from the shared word before it
//! must not be installed after it. An install is a compare-exchange of the whole
//! lease word against the value read before taking, and that value is always an
//! empty mark that never recurs in the shard's word: a reset's number (one per
//! reset), or a fresh mark of the shard (one per lease), which a thread swaps in
//! for an exhausted lease before it takes from the shared word. An exhausted
//! lease itself can recur (a post-reset lease spent back to the same slots), so
//! it is never compared against; once the word leaves the mark read, no install
//! against that mark can succeed.
//!
//! A shard whose lease size is still 1 skips its lease word and takes its unit
//! from the shared word directly: that is a lease of one unit spent at once, so
//! the argument covers it, and since the size only grows, such a shard has never
//! installed a lease that the skip could pass over (and a skipped unit would only
//! be lost). An uncontended thread therefore pays the plain check plus a
//! thread-local read and a shard index (a remainder by multiplication).
//!
//! # What it gives up
//!
//! Units whose slot passes while their shard is quiet are lost, never admitted:
//! at most `shards × lease` units are held at once, and the lease adapts: it
//! starts at 1 (every check takes one unit from the shared word, exactly the plain
//! limiter), doubles when taking a lease met contention, and never exceeds half
//! the burst over all shards. A lease the bucket could not fill is granted only
//! what the bucket held (so that its last units are not stranded in one shard),
//! but the size of the next lease does not fall.
//! Decisions of checks served from a lease count only that lease's units in
//! `remaining` (a lower bound) and its end in `reset_after`.

use crate::algorithm::{gcra, Params};
use crate::clock::Nanos;
use crate::decision::Decision;
use crate::sync::{move_thread_index, AtomicU128, AtomicU64, Ordering};
use alloc::boxed::Box;
use alloc::vec::Vec;
use crossbeam_utils::CachePadded;

/// The largest lease a shard takes.
pub(crate) const MAX_LEASE: u64 = 1 << 12;

/// The bit that sets a shard's fresh empty marks apart from reset numbers.
const FRESH: u64 = 1 << 63;

/// One thread's units: every slot from `next` (inclusive) to `end` (exclusive)
/// that a unit may take, `T` apart. An empty lease has `end` 0, and its `next`
/// holds the number of the reset that emptied it, or a fresh mark of its shard
/// (with `FRESH` set) that replaced an exhausted lease: no empty value recurs in
/// a shard's word, so a lease taken before a reset can never be installed after
/// it (its install compares the whole word against an empty value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Lease {
    next: Nanos,
    end: Nanos,
}

impl Lease {
    fn pack(self) -> u128 {
        u128::from(self.next) | u128::from(self.end) << 64
    }

    fn unpack(w: u128) -> Self {
        Self {
            next: w as u64,
            end: (w >> 64) as u64,
        }
    }

    /// The slot of a unit spent at `now`: the later of `next` and `now`, if a
    /// whole interval of the lease is left from there.
    #[inline]
    fn slot(self, p: &Params, now: Nanos) -> Option<Nanos> {
        let slot = if self.next > now { self.next } else { now };
        (slot.saturating_add(p.t) <= self.end).then_some(slot)
    }
}

#[derive(Debug)]
struct Shard {
    lease: AtomicU128,
    /// Fresh marks handed out by this shard (see `FRESH`).
    marks: AtomicU64,
    /// The next lease's size.
    size: AtomicU64,
}

/// The shared GCRA word and its shards.
#[derive(Debug)]
pub(crate) struct ShardedCell {
    shared: CachePadded<AtomicU64>,
    shards: Box<[CachePadded<Shard>]>,
    /// `2^64 / shards`, rounded up: a thread's index modulo the shard count by
    /// two multiplications (Lemire's direct remainder), not a division.
    magic: u64,
    /// Resets so far: the mark an emptied lease carries.
    resets: AtomicU64,
    /// The largest lease: at most half the burst over all shards, so that held
    /// units never keep most of the bucket from the others.
    cap: u64,
}

impl ShardedCell {
    pub(crate) fn new(p: &Params, shards: usize) -> Self {
        let shards = shards.max(1);
        let v: Vec<_> = (0..shards)
            .map(|_| {
                CachePadded::new(Shard {
                    lease: AtomicU128::new(0),
                    marks: AtomicU64::new(0),
                    size: AtomicU64::new(1),
                })
            })
            .collect();
        Self {
            shared: CachePadded::new(AtomicU64::new(0)),
            shards: v.into_boxed_slice(),
            magic: (u64::MAX / shards as u64).wrapping_add(1),
            resets: AtomicU64::new(0),
            cap: (p.burst / (2 * shards as u64)).clamp(1, MAX_LEASE),
        }
    }

    pub(crate) fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Shard `i` modulo the shard count (exact for indexes below 2^32, and in
    /// bounds for any).
    #[inline(always)]
    fn shard(&self, i: usize) -> &Shard {
        let low = self.magic.wrapping_mul(u64::from(i as u32));
        let n = self.shards.len();
        &self.shards[((u128::from(low) * n as u128) >> 64) as usize]
    }

    /// A check of cost 1 on shard `i` (taken modulo the shard count).
    #[inline]
    pub(crate) fn check(&self, p: &Params, now: Nanos, i: usize) -> Decision {
        let shard = self.shard(i);
        // Relaxed: the size is a hint; any value in 1..=cap is safe.
        let k = shard.size.load(Ordering::Relaxed);
        if k <= 1 {
            // Leases of one unit are the plain check: a size that has never grown
            // means no lease was ever installed, and skipping a lease's units
            // would only lose them anyway.
            let (seen, contended) = self.take(|tat| gcra::admit(p, tat, now, 1));
            if contended {
                // Relaxed: as above.
                shard.size.store(2.min(self.cap), Ordering::Relaxed);
            }
            return gcra::decide(p, seen, now, 1).1;
        }
        self.check_leased(p, now, shard, k)
    }

    /// A check of cost 1 on a shard whose leases have grown past one unit.
    #[inline(never)]
    fn check_leased(&self, p: &Params, now: Nanos, shard: &Shard, k: u64) -> Decision {
        match self.spend(p, now, shard) {
            Ok(d) => d,
            Err(w) => {
                let (d, held) = self.lease_from_shared(p, now, shard, k);
                if let Some(held) = held {
                    install(shard, w, held);
                }
                d
            }
        }
    }

    /// Spends a unit of the shard's lease, or, if none is left, returns the empty
    /// mark that a new lease's install must compare against (a value that never
    /// recurs in this shard's word; see the module docs).
    #[inline]
    fn spend(&self, p: &Params, now: Nanos, shard: &Shard) -> Result<Decision, u128> {
        // Acquire: a thread that sees a reset's mark (or a value written after it)
        // must take its lease after the reset's store of the shared word (see
        // `store_shared`); the lease word publishes nothing else.
        let mut w = shard.lease.load(Ordering::Acquire);
        loop {
            let l = Lease::unpack(w);
            let (new, spent) = match l.slot(p, now) {
                // A slot beyond `now + tau` is not yet due for this check: its `now`
                // was read before the lease was granted (a thread delayed between
                // its clock read and here). Deny without touching the lease, so every
                // admission owns a slot conformant at its own time.
                Some(slot) if slot > now.saturating_add(p.tau) => {
                    return Ok(not_yet(p, l, slot, now));
                }
                Some(slot) => (
                    Lease {
                        next: slot + p.t,
                        end: l.end,
                    },
                    true,
                ),
                // Already an empty mark: marks never recur, so an install may
                // compare against it.
                None if l.end == 0 => return Err(w),
                // An exhausted lease's value can recur after a reset: swap it for a
                // fresh mark first. Relaxed: only uniqueness within this shard
                // matters, which the add gives by itself.
                None => (
                    Lease {
                        next: FRESH | shard.marks.fetch_add(1, Ordering::Relaxed),
                        end: 0,
                    },
                    false,
                ),
            };
            // Acquire on success and failure: the word replaced or read may be a
            // reset's mark or a later write in its release sequence, and a lease
            // taken next must come from the shared word the reset stored; spending
            // a unit or marking publishes nothing.
            match shard
                .lease
                .compare_exchange(w, new.pack(), Ordering::Acquire, Ordering::Acquire)
            {
                Ok(_) if spent => return Ok(from_lease(p, new, now)),
                Ok(_) => return Err(new.pack()),
                Err(actual) => {
                    // Another thread draws from this shard too: move on next time.
                    move_thread_index();
                    w = actual;
                }
            }
        }
    }

    /// Takes a lease of up to `k` units from the shared word: the decision for the
    /// unit spent now, and the rest of the lease to install, if any.
    #[inline]
    fn lease_from_shared(
        &self,
        p: &Params,
        now: Nanos,
        shard: &Shard,
        k: u64,
    ) -> (Decision, Option<Lease>) {
        let k = k.clamp(1, self.cap);
        let (seen, contended) = self.take(|tat| gcra::lease(p, tat, now, k).map(|l| l.0));
        let Some((tat, first, granted)) = gcra::lease(p, seen, now, k) else {
            return (gcra::decide(p, seen, now, 1).1, None);
        };
        if contended {
            // Relaxed: the size is a hint, as in `check`.
            shard.size.store((k * 2).min(self.cap), Ordering::Relaxed);
        }
        let held = (granted > 1).then_some(Lease {
            next: first + p.t,
            end: tat,
        });
        let mut d = gcra::decide(p, seen, now, 1).1;
        d.reset_after = tat - now;
        (d, held)
    }

    /// A check of cost `n > 1`: straight to the shared word, as the plain limiter.
    pub(crate) fn check_n(&self, p: &Params, now: Nanos, n: u64) -> Decision {
        let (seen, _) = self.take(|tat| gcra::admit(p, tat, now, n));
        gcra::decide(p, seen, now, n).1
    }

    /// What `check` on shard `i` would answer, changing nothing.
    pub(crate) fn peek(&self, p: &Params, now: Nanos, i: usize, n: u64) -> Decision {
        let shard = self.shard(i);
        // Relaxed: a peek changes nothing, so what it reads need not be ordered.
        let l = Lease::unpack(shard.lease.load(Ordering::Relaxed));
        if n == 1 {
            if let Some(slot) = l.slot(p, now) {
                if slot > now.saturating_add(p.tau) {
                    return not_yet(p, l, slot, now);
                }
                let rest = Lease {
                    next: slot + p.t,
                    end: l.end,
                };
                return from_lease(p, rest, now);
            }
        }
        gcra::decide(p, self.shared_state(), now, n).1
    }

    /// Forgets everything: the shared word and every lease.
    pub(crate) fn reset(&self) {
        self.store_shared(0);
    }

    /// The shared word (units held in leases count as taken).
    pub(crate) fn shared_state(&self) -> u64 {
        // Relaxed: the word is the whole state, as in `WordCell`.
        self.shared.load(Ordering::Relaxed)
    }

    /// Replaces the shared word and empties every lease (restore, reset).
    ///
    /// Both words are written by exchanges, not stores: every write to them is
    /// then a read-modify-write, which loom orders correctly against a racing
    /// compare-exchange (it lets a plain store fall between an exchange's read
    /// and its write, tokio-rs/loom#254, which the memory model forbids).
    pub(crate) fn store_shared(&self, state: u64) {
        // Relaxed: as in `shared_state`.
        self.shared.swap(state, Ordering::Relaxed);
        // Relaxed: only uniqueness matters, which the add gives by itself.
        let mark = self.resets.fetch_add(1, Ordering::Relaxed) + 1;
        let empty = Lease { next: mark, end: 0 }.pack();
        for shard in self.shards.iter() {
            // Release: a thread that reads this mark and then takes a lease takes
            // it from the shared word stored above, never from the one before the
            // reset; an install compares the whole word, so one that read the word
            // before this exchange is refused.
            shard.lease.swap(empty, Ordering::Release);
        }
    }

    /// The units lease `i` holds now, for tests.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn held(&self, i: usize, p: &Params) -> u64 {
        // Relaxed: as in `check`.
        let l = Lease::unpack(self.shards[i].lease.load(Ordering::Relaxed));
        l.end.saturating_sub(l.next) / p.t
    }

    /// Runs `admit` on the shared word until its answer is installed: the word the
    /// last attempt saw, and whether any attempt lost a race.
    fn take(&self, admit: impl Fn(u64) -> Option<u64>) -> (u64, bool) {
        // Relaxed: as in `shared_state`.
        let mut cur = self.shared.load(Ordering::Relaxed);
        let mut contended = false;
        loop {
            let Some(next) = admit(cur) else {
                return (cur, contended);
            };
            match self
                .shared
                .compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return (cur, contended),
                Err(actual) => {
                    cur = actual;
                    contended = true;
                }
            }
        }
    }
}

/// Installs `held` in place of the mark `w` that `spend` returned. A failure (a
/// reset, or another thread of this shard installed a lease meanwhile) drops
/// these units: fewer admitted, never more.
#[inline]
fn install(shard: &Shard, w: u128, held: Lease) {
    // Relaxed: the lease's units were taken from the shared word already, and the
    // mark compared against never recurs, so this publishes nothing.
    let _ = shard
        .lease
        .compare_exchange(w, held.pack(), Ordering::Relaxed, Ordering::Relaxed);
}

/// The decision of a check served from a lease (see the module docs).
/// The denial of a check whose `now` is earlier than its lease's next slot allows:
/// it may retry once the slot is due.
fn not_yet(p: &Params, l: Lease, slot: Nanos, now: Nanos) -> Decision {
    let mut d = p.blank_decision(false);
    d.retry_after = slot - p.tau - now;
    d.reset_after = l.end.saturating_sub(now);
    d
}

fn from_lease(p: &Params, rest: Lease, now: Nanos) -> Decision {
    let mut d = p.blank_decision(true);
    d.remaining_num = rest.end.saturating_sub(rest.next);
    d.remaining_unit = p.t;
    d.reset_after = rest.end.saturating_sub(now);
    d
}

#[cfg(all(test, not(loom)))]
mod tests {
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
}

#[cfg(all(test, loom))]
mod loom_tests {
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
}
