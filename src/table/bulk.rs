//! Whole-table operations: purging expired keys, counting live ones, clearing,
//! and the scans snapshots save from and restore into.

use super::slot::Slot;
use super::Table;
use crate::clock::Nanos;
use crate::sync::Ordering;

impl Table {
    /// Empties every slot whose state has expired; returns how many.
    pub(crate) fn purge_expired<E: Fn(u64) -> Nanos>(&self, now: Nanos, expires: E) -> usize {
        let mut purged = 0;
        for idx in 0..self.slot_count() {
            let s = self.load(idx);
            // State 0 is a key about to make its first admission (see
            // `choose_slot`): live, like a pending claim.
            if s.is_owned()
                && !s.is_pending()
                && s.state() != 0
                && expires(s.state()) <= now
                && self.cas(idx, s, s.emptied()).is_ok()
            {
                purged += 1;
            }
        }
        purged
    }

    /// Live keys: owned, unexpired slots (an O(slots) scan).
    pub(crate) fn live<E: Fn(u64) -> Nanos>(&self, now: Nanos, expires: E) -> usize {
        (0..self.slot_count())
            .map(|idx| self.load(idx))
            .filter(|s| {
                s.is_owned() && (s.is_pending() || s.state() == 0 || expires(s.state()) > now)
            })
            .count()
    }

    /// Empties every slot.
    pub(crate) fn clear(&self) {
        for idx in 0..self.slot_count() {
            let mut s = self.load(idx);
            while s.is_owned() {
                match self.cas(idx, s, s.emptied()) {
                    Ok(()) => break,
                    Err(now) => s = now,
                }
            }
        }
    }

    used_by_snapshots! {
        /// Makes the table hold exactly `entries` (slot index, tag, state, and a
        /// payload; sorted by slot index, in range): one pass over every slot, which
        /// calls `before(idx, Some((slot, payload)))` just before publishing an
        /// installed slot and `before(idx, None)` for every other one. A snapshot
        /// restore, not ordered with checks running meanwhile (a check may see a key
        /// in its old slot, its new one, or absent).
        pub(crate) fn replace_all<E, F: FnMut(usize, Option<(Slot, E)>)>(
            &self,
            entries: impl Iterator<Item = (usize, u64, u64, E)>,
            mut before: F,
        ) {
            let mut next = 0;
            for (idx, tag, state, payload) in entries {
                self.empty_range(next..idx, &mut before);
                // From the old word, so the version keeps moving (ABA).
                let new = self.load(idx).claimed_by(tag).confirmed().with_state(state);
                before(idx, Some((new, payload)));
                // Release: this word does publish other memory: a check that sees it
                // sees what `before` wrote (the slot's log) and the seeds.
                self.cell(idx).store(new.0, Ordering::Release);
                next = idx + 1;
            }
            self.empty_range(next..self.slot_count(), &mut before);
        }
    }

    /// `replace_all`'s emptying of the slots between two installed ones.
    #[inline(always)]
    fn empty_range<E, F: FnMut(usize, Option<(Slot, E)>)>(
        &self,
        range: core::ops::Range<usize>,
        before: &mut F,
    ) {
        for idx in range {
            before(idx, None);
            let old = self.load(idx);
            if old.is_owned() {
                // Release: as for an installed word in `replace_all`.
                self.cell(idx).store(old.emptied().0, Ordering::Release);
            }
        }
    }

    used_by_snapshots! {
        /// Every confirmed key in the slot range: (slot index, slot). For snapshots.
        pub(crate) fn entries(
            &self,
            range: core::ops::Range<usize>,
        ) -> impl Iterator<Item = (usize, Slot)> + '_ {
            range.filter_map(|idx| {
                let s = self.load(idx);
                (s.is_owned() && !s.is_pending()).then_some((idx, s))
            })
        }
    }
}
