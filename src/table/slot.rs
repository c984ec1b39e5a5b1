//! The 128-bit slot word: who owns a slot, and the owner's state.
//!
//! ```text
//!  127                         72 71      65  64 63                        0
//! +-----------------------------+----------+---+---------------------------+
//! | tag (56 bits, 0 = no owner) | version 7| P | state (64 bits)           |
//! +-----------------------------+----------+---+---------------------------+
//! ```
//!
//! `P` marks a *pending* claim (see the table's state machine). The version is
//! bumped by every change of owner (a claim, and the release or expiry that ends
//! it), so a thread holding a stale copy of a slot can never make a
//! compare-exchange succeed against a slot that changed hands and came back (ABA)
//! unless 128 bumps (64 claim-and-release cycles) happened in between.
//!
//! Why the wrap is harmless: every compare-exchange compares the whole word, so a
//! stale copy succeeds only if, after a multiple of 64 such cycles of this one
//! slot while its thread held the copy, the slot holds exactly that word again:
//! the same tag, pending bit and state. Then the transition is judged on the
//! slot's present value, and is one any thread may make from it (update the
//! owner's state, resolve a pending claim of that key, claim an empty or dead
//! slot). `raise_state` compares tag and version only: it can wrongly succeed
//! only after 64 cycles that end with the same key back at the same version,
//! and the cost is one admission of that key counted against a log it lost.

/// Bits of the slot's tag field: 55 bits of the key's hash and a marker bit (so
/// a tag is never 0). The first candidate group comes from the hash's high bits,
/// so a tag and a group identify all 64 bits of the hash.
pub(crate) const TAG_BITS: u32 = 56;
const PENDING: u64 = 1;
const VERSION_MASK: u64 = 0xFE;

/// A slot's value, unpacked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot(pub u128);

impl Slot {
    pub(crate) fn meta(self) -> u64 {
        (self.0 >> 64) as u64
    }

    pub(crate) fn state(self) -> u64 {
        self.0 as u64
    }

    pub(crate) fn tag(self) -> u64 {
        self.meta() >> (64 - TAG_BITS)
    }

    pub(crate) fn is_owned(self) -> bool {
        self.tag() != 0
    }

    pub(crate) fn is_pending(self) -> bool {
        self.is_owned() && self.meta() & PENDING != 0
    }

    /// Whether `tag` owns this slot, confirmed: one masked compare of the meta
    /// word (tag and pending bit; a tag is never 0), for the checks' hot path.
    #[inline(always)]
    pub(crate) fn is_confirmed_for(self, tag: u64) -> bool {
        self.meta() & !VERSION_MASK == tag << (64 - TAG_BITS)
    }

    /// An 8-bit stamp of this ownership (the version, tagged non-zero): a keyed
    /// log records which owner it belongs to with it.
    pub(crate) fn owner_stamp(self) -> u64 {
        0x80 | ((self.meta() & VERSION_MASK) >> 1)
    }

    fn next_version(self) -> u64 {
        (self.meta().wrapping_add(2)) & VERSION_MASK
    }

    fn with(meta: u64, state: u64) -> Self {
        Slot(u128::from(meta) << 64 | u128::from(state))
    }

    /// The same owner with a new state.
    pub(crate) fn with_state(self, state: u64) -> Self {
        Self::with(self.meta(), state)
    }

    /// A pending claim of this slot by `tag`, replacing whatever was here.
    pub(crate) fn claimed_by(self, tag: u64) -> Self {
        Self::with(tag << (64 - TAG_BITS) | self.next_version() | PENDING, 0)
    }

    /// This pending claim, confirmed (state: none yet).
    pub(crate) fn confirmed(self) -> Self {
        Self::with(self.meta() & !PENDING, 0)
    }

    /// No owner (the version moves on).
    pub(crate) fn emptied(self) -> Self {
        Self::with(self.next_version(), 0)
    }
}

/// The slot tag of a 64-bit key hash: its low 56 bits, never 0.
pub(crate) fn tag_of(hash: u64) -> u64 {
    (hash & ((1 << (TAG_BITS - 1)) - 1)) | 1 << (TAG_BITS - 1)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn transitions_keep_their_meaning() {
        let empty = Slot(0);
        assert!(!empty.is_owned() && !empty.is_pending());
        let t = tag_of(0xDEAD_BEEF_0000_0000);
        assert_ne!(t, 0);
        let claim = empty.claimed_by(t);
        assert!(claim.is_pending() && claim.tag() == t);
        let conf = claim.confirmed();
        assert!(conf.tag() == t && !conf.is_pending());
        let upd = conf.with_state(42);
        assert_eq!((upd.tag(), upd.state()), (t, 42));
        // The hot path's one-compare test agrees with tag-and-not-pending, on
        // every version.
        let other = tag_of(0x1234_5678_9ABC_DEF0);
        let mut s = empty;
        for _ in 0..130 {
            for w in [
                s,
                s.claimed_by(t),
                s.claimed_by(t).confirmed().with_state(7),
            ] {
                for tag in [t, other] {
                    let slow = w.tag() == tag && !w.is_pending();
                    assert_eq!(w.is_confirmed_for(tag), slow, "{w:?} {tag:#x}");
                }
            }
            s = s.claimed_by(other).confirmed().emptied();
        }
        assert!(conf.is_confirmed_for(t) && !claim.is_confirmed_for(t));
        let gone = upd.emptied();
        assert!(!gone.is_owned());
        assert_ne!(gone, empty, "the version moved on");
        // The version takes 128 bumps to come back: 63 claim-and-release cycles
        // after a claim, the claim's word has not recurred; the 64th brings it back.
        let mut s = empty;
        let mut claims = Vec::new();
        for _ in 0..64 {
            let c = s.claimed_by(t);
            claims.push(c.0);
            s = c.emptied();
        }
        assert!(claims[1..].iter().all(|&c| c != claims[0]));
        assert_eq!(
            s.claimed_by(t).0,
            claims[0],
            "after 64 cycles the version wraps"
        );
    }
}
