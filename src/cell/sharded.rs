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
mod tests;

#[cfg(all(test, loom))]
mod loom_tests;
