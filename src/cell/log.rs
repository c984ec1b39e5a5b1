//! The sliding-window log's cell: a 128-bit head and a ring of timestamps, updated
//! without locks by claiming on the head and helping with the slot writes.

use crate::algorithm::sliding_log::{self, LogHead, LogSlots};
use crate::algorithm::Params;
use crate::clock::Nanos;
use crate::decision::Decision;
use crate::sync::{AtomicU128, AtomicU64, Ordering};
use alloc::boxed::Box;
use alloc::vec::Vec;

/// The sliding-window log: a 128-bit [`LogHead`] and a ring of `L` timestamp slots.
///
/// # Protocol
///
/// An admission is *claimed* by one compare-exchange of the head (new position,
/// fill, `n_last`, `t_last`); the `n_last` slots before the new position must then
/// be set to `t_last`. Any thread that reads a head first *completes* that pending
/// write (helping), so no thread ever waits for another:
///
/// ```text
///   head H --claim (CAS H -> H')--> head H'   slots [pos, pos+n) pending
///     |                                 |
///     +-- every reader of H' runs complete(H'): slot = t_last by CAS,
///         only while the head is still H'
/// ```
///
/// A helper may be arbitrarily late, so it writes a slot only after re-reading the
/// head and finding it unchanged: then the value it read is not from a later lap
/// (a later lap writes its slots after its own head exchange, and the slot load is
/// `Acquire`, so seeing such a value forces the re-read to see the later head), and
/// the log has not been emptied since. The exchange from the value read closes the
/// rest: once anyone completes the claim the slot holds `t_last`, and later laps of
/// the same log write times that never decrease. The one case this argument leaves
/// open needs a log emptied and refilled, by a clock set back to exactly the
/// nanosecond the helper read, between its re-read and its exchange.
///
/// Emptying (reset, a new owner) forgets the newest time too, so that a clock set
/// backwards afterwards is judged against the fresh quota only; slot values may then
/// decrease, which is why helpers check the head rather than compare times.
///
/// Decisions are linearized at the head: an admission at its successful exchange; a
/// denial at the re-read that finds the head unchanged after the slots were read
/// (slot loads are `Acquire` and slot writes `Release`, so a slot value from a
/// later claim forces that re-read to see the later head, and the check retries).
pub(crate) struct LogCell {
    head: AtomicU128,
    slots: Box<[AtomicU64]>,
}

impl LogSlots for [AtomicU64] {
    #[inline]
    fn slot(&self, i: u64) -> Nanos {
        // Acquire: pairs with the Release of `complete`; see the protocol above.
        self.get(i as usize)
            .map_or(0, |s| s.load(Ordering::Acquire))
    }

    #[inline]
    fn ring_len(&self) -> u64 {
        self.len() as u64
    }
}

/// Whether a log check consumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LogMode {
    /// Admit the cost if it fits.
    Check,
    /// Answer what a check would, changing nothing.
    Peek,
}

/// What the caller knows of its claim to the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ownership {
    /// Only the stamp read from its slot: a log stamped newer is someone else's.
    AsStamped,
    /// It has just seen that it still owns the slot, so a stamp that looks newer
    /// only means that the 7-bit versions wrapped.
    Verified,
}

/// How a log check ended.
pub(crate) enum LogRun {
    /// Decided; `Some(t)` if an admission stamped its entries `t`.
    Done(Decision, Option<Nanos>),
    /// The log belongs to a newer owner than the caller's stamp: the caller's view
    /// of who owns the slot is stale.
    Stale,
}

/// Whether owner stamp `a` is newer than `b`. Stamps carry a 7-bit version that
/// grows with every change of the slot's owner; "newer" is up to 63 steps ahead.
/// 0 is nobody, older than everyone.
///
/// Bound: an ownership's version is two steps past the previous one's (claim and
/// release), so a check holding a stamp that ended `k` owner changes ago is told
/// `Stale` for every `k` up to 32; from 33 changes of its slot while it stalls
/// between reading the slot word and the log head, its stamp looks newer and it
/// empties the present owner's log, which then has what an eviction of that key
/// would have left it (its slot and state stay; `raise_state` then fails for the
/// stale check, which goes again).
fn newer_owner(a: u64, b: u64) -> bool {
    b == 0 || (1..64).contains(&(a.wrapping_sub(b) & 0x7F))
}

/// How many times `live_times` re-reads a log whose head moved during a read.
const LIVE_TIMES_ATTEMPTS: usize = 4;

/// The log protocol over borrowed storage (a direct limiter's own log, or one of
/// the keyed table's per-slot logs).
#[derive(Clone, Copy)]
pub(crate) struct LogRef<'a> {
    pub head: &'a AtomicU128,
    pub slots: &'a [AtomicU64],
}

impl LogRef<'_> {
    fn len(&self) -> u64 {
        self.slots.len() as u64
    }

    /// Finishes the slot writes that the admission in head `word` claimed, while
    /// `word` is still the head (see the protocol).
    fn complete(&self, word: u128) {
        let head = LogHead::unpack(word);
        let l = self.len();
        for back in 1..=head.n_last.min(l) {
            let slot = &self.slots[((head.pos + l - back) % l) as usize];
            // Acquire: a value from a later lap makes the head re-read below see it.
            let seen = slot.load(Ordering::Acquire);
            if seen == head.t_last {
                continue;
            }
            // Acquire: pairs with the later claims' head exchanges (see above).
            if self.head.load(Ordering::Acquire) != word {
                // Completed by whoever moved the head on, or emptied: nothing to do.
                return;
            }
            // Release on success: publishes the entry before any later head that a
            // reader could validate against. A failure means another helper wrote
            // `t_last` meanwhile.
            let _ = slot.compare_exchange(seen, head.t_last, Ordering::AcqRel, Ordering::Acquire);
        }
    }

    /// Checks cost `n` at `now` (admitting it under `LogMode::Check`) as owner
    /// `owner`. A log stamped by an older owner is adopted (emptied) first; by a
    /// newer one: `Stale`, unless the ownership is `Verified`.
    pub(crate) fn run(
        &self,
        p: &Params,
        now: Nanos,
        n: u64,
        mode: LogMode,
        owner: u64,
        ownership: Ownership,
    ) -> LogRun {
        // Acquire: the slot writes completed before this head was installed are
        // visible to the slot reads that follow.
        let mut word = self.head.load(Ordering::Acquire);
        loop {
            let mut head = LogHead::unpack(word);
            if head.owner != owner {
                if ownership == Ownership::AsStamped && !newer_owner(owner, head.owner) {
                    return LogRun::Stale;
                }
                if mode == LogMode::Peek {
                    // A peek: the log is ours to adopt, so as good as empty.
                    let empty = head.adopted(owner);
                    return LogRun::Done(sliding_log::decide(p, empty, self.slots, now, n).1, None);
                }
                // AcqRel/Acquire as for any head change below.
                match self.head.compare_exchange(
                    word,
                    head.adopted(owner).pack(),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => {
                        word = head.adopted(owner).pack();
                        head = LogHead::unpack(word);
                    }
                    Err(actual) => {
                        word = actual;
                        continue;
                    }
                }
            }
            self.complete(word);
            let (next, decision) = sliding_log::decide(p, head, self.slots, now, n);
            match next {
                Some(next) if mode == LogMode::Check => {
                    // AcqRel: Release publishes our completion of `head` to whoever
                    // reads `next`; Acquire (also on failure) for the retry's reads.
                    match self.head.compare_exchange(
                        word,
                        next.pack(),
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => {
                            self.complete(next.pack());
                            return LogRun::Done(decision, Some(next.t_last));
                        }
                        Err(actual) => word = actual,
                    }
                }
                _ => {
                    // Acquire: validates that the slots read belong to `head`.
                    let again = self.head.load(Ordering::Acquire);
                    if again == word {
                        return LogRun::Done(decision, None);
                    }
                    word = again;
                }
            }
        }
    }

    used_by_snapshots! {
        /// The log's times at or after `floor`, oldest first and never decreasing, into
        /// `out`: one state the log had (validated like a denial: the head is re-read
        /// after the slots). A log so hot that its head moves during every read is
        /// read a few times only, then taken as read: slot values only grow, so a slot
        /// overwritten meanwhile reads as a later admission, and the times read are at
        /// least as strict as the head's. `false` (and `out` empty) if the log is not
        /// `owner`'s, so holds none of its entries. For snapshots.
        pub(crate) fn live_times(&self, floor: Nanos, owner: u64, out: &mut Vec<Nanos>) -> bool {
            let l = self.len();
            // Acquire: as in `run`, the slots completed before this head are visible.
            let mut word = self.head.load(Ordering::Acquire);
            for attempt in 0.. {
                let head = LogHead::unpack(word);
                out.clear();
                if head.owner != owner {
                    return false;
                }
                let mut newest = 0;
                for back in (1..=head.filled.min(l)).rev() {
                    // The last admission's slots may still be being written by its
                    // thread: the head says what they hold.
                    let t = if back <= head.n_last {
                        head.t_last
                    } else {
                        self.slots.slot((head.pos % l + l - back) % l)
                    };
                    // Never decreasing, as a file requires, even for a log a restore
                    // raced (its slots may then hold a check's later time out of order).
                    newest = newest.max(t);
                    if newest >= floor {
                        out.push(newest);
                    }
                }
                // Acquire: validates that the slots read belong to `head`.
                let again = self.head.load(Ordering::Acquire);
                if again == word || attempt == LIVE_TIMES_ATTEMPTS {
                    break;
                }
                word = again;
            }
            true
        }
    }

    used_by_snapshots! {
        /// Makes the log hold exactly `times` (oldest first, at most `L`, never
        /// decreasing) for `owner`: a snapshot restore, which is not ordered with
        /// checks running meanwhile. Every other slot of a used log is zeroed, so that
        /// no entry of the log's past can be read as one of the restored ones.
        pub(crate) fn install(&self, times: &[Nanos], owner: u64) {
            // Acquire: only the generation is kept, so that no stale head compares equal.
            let old_word = self.head.load(Ordering::Acquire);
            let old = LogHead::unpack(old_word);
            // A log never used (head 0) has only zero slots: nothing to clear.
            let clear = if old_word == 0 { 0 } else { self.slots.len() };
            for (i, slot) in self.slots.iter().enumerate().take(clear.max(times.len())) {
                // Release: published with the head below.
                slot.store(times.get(i).copied().unwrap_or(0), Ordering::Release);
            }
            let filled = times.len().min(self.slots.len()) as u64;
            let head = LogHead {
                pos: filled % self.len(),
                filled,
                n_last: 0,
                owner,
                gen: old.gen.wrapping_add(1) & 0xFF,
                t_last: times.last().copied().unwrap_or(0),
            };
            if old_word == 0 && head == LogHead::default() {
                // Nothing restored into a log never used: it stays as it is.
                return;
            }
            // Release: a check that reads this head reads the slots stored above.
            self.head.store(head.pack(), Ordering::Release);
        }
    }

    pub(crate) fn reset(&self) {
        // Acquire/AcqRel as in `run`: the emptied head is a head change like any other.
        let mut word = self.head.load(Ordering::Acquire);
        loop {
            let next = LogHead::unpack(word).emptied().pack();
            match self
                .head
                .compare_exchange(word, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return,
                Err(actual) => word = actual,
            }
        }
    }
}

impl LogCell {
    pub(crate) fn new(limit: u64) -> Self {
        let slots: Vec<AtomicU64> = (0..limit.max(1)).map(|_| AtomicU64::new(0)).collect();
        Self {
            head: AtomicU128::new(0),
            slots: slots.into_boxed_slice(),
        }
    }

    fn as_ref(&self) -> LogRef<'_> {
        LogRef {
            head: &self.head,
            slots: &self.slots,
        }
    }

    fn run(&self, p: &Params, now: Nanos, n: u64, mode: LogMode) -> Decision {
        match self.as_ref().run(p, now, n, mode, 0, Ownership::AsStamped) {
            LogRun::Done(d, _) => d,
            // A direct log has one owner, 0, forever.
            LogRun::Stale => p.blank_decision(false),
        }
    }

    pub(crate) fn check(&self, p: &Params, now: Nanos, n: u64) -> Decision {
        self.run(p, now, n, LogMode::Check)
    }

    pub(crate) fn peek(&self, p: &Params, now: Nanos) -> Decision {
        self.run(p, now, 1, LogMode::Peek)
    }

    pub(crate) fn peek_n(&self, p: &Params, now: Nanos, n: u64) -> Decision {
        self.run(p, now, n, LogMode::Peek)
    }

    pub(crate) fn reset(&self) {
        self.as_ref().reset();
    }

    used_by_snapshots! {
        /// The protocol over this cell's storage (snapshots read and restore through it).
        pub(crate) fn log(&self) -> LogRef<'_> {
            self.as_ref()
        }
    }
}

impl core::fmt::Debug for LogCell {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LogCell")
            // Acquire: a consistent read for display only.
            .field("head", &LogHead::unpack(self.head.load(Ordering::Acquire)))
            .field("slots", &self.slots.len())
            .finish()
    }
}
