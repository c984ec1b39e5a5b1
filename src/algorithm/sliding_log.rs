//! Sliding-window log (exact): at most `L` units admitted in any trailing `(now-P, now]`.
//!
//! The state is a ring of `L` timestamps, one per admitted unit, plus a [`LogHead`]:
//! the next write position, how many slots hold entries, and the last admission
//! (its time and cost). Entry times never decrease (each admission is stamped
//! `max(now, t_last)`), so the ring is sorted oldest to newest from `pos`.
//!
//! A cost `n` is allowed iff the `n`-th oldest of the last `L` entries has left the
//! window (fewer than `L` entries count as older ones long gone). Memory: 8 bytes per
//! unit of limit, plus the 16-byte head: a limit of 100 costs 816 bytes per key.
//!
//! The pure function here reads slots through [`LogSlots`] and never writes them;
//! `cell::LogCell` publishes the head and the slots without locks.

use super::Params;
use crate::clock::Nanos;
use crate::decision::Decision;

/// The log's fixed-size part; packs into one 128-bit word.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct LogHead {
    /// Next slot to write (`< L`).
    pub pos: u64,
    /// Slots holding entries (`<= L`).
    pub filled: u64,
    /// Cost of the last admission: slots `pos - n_last .. pos` hold `t_last`.
    pub n_last: u64,
    /// Which key owns the log (keyed limiters: a stamp of the owning slot's
    /// version; 0 for a direct limiter's own log).
    pub owner: u64,
    /// Bumped by every change, so a stale head never compares equal (ABA).
    pub gen: u64,
    /// Time stamped on the last admission (entries never exceed it).
    pub t_last: Nanos,
}

const MASK16: u64 = 0xFFFF;
const MASK8: u64 = 0xFF;

impl LogHead {
    pub(crate) fn pack(self) -> u128 {
        let low = (self.pos & MASK16)
            | (self.filled & MASK16) << 16
            | (self.n_last & MASK16) << 32
            | (self.owner & MASK8) << 48
            | (self.gen & MASK8) << 56;
        u128::from(self.t_last) << 64 | u128::from(low)
    }

    pub(crate) fn unpack(word: u128) -> Self {
        let low = word as u64;
        Self {
            pos: low & MASK16,
            filled: (low >> 16) & MASK16,
            n_last: (low >> 32) & MASK16,
            owner: (low >> 48) & MASK8,
            gen: low >> 56,
            t_last: (word >> 64) as u64,
        }
    }

    /// The head after `reset`: no entries and no newest time (a clock set back
    /// afterwards is judged against the fresh quota only); the position stays.
    pub(crate) fn emptied(self) -> Self {
        Self {
            filled: 0,
            n_last: 0,
            t_last: 0,
            gen: self.gen.wrapping_add(1) & MASK8,
            ..self
        }
    }

    /// The head after `owner` takes the log over: emptied, stamped with the owner.
    pub(crate) fn adopted(self, owner: u64) -> Self {
        Self {
            owner,
            ..self.emptied()
        }
    }
}

/// Read access to the ring: slot `i` for `i < len()`.
pub(crate) trait LogSlots {
    fn slot(&self, i: u64) -> Nanos;
    /// The ring's length (at least the limit: `set_quota` may lower the limit
    /// below the length allocated at build).
    fn ring_len(&self) -> u64;
}

/// The entry `back` places before `pos` (1 = newest).
fn entry<S: LogSlots + ?Sized>(slots: &S, ring: u64, pos: u64, back: u64) -> Nanos {
    slots.slot((pos + ring - back) % ring)
}

/// How many of the `count` entries just before `pos` are still in the window,
/// i.e. later than `cutoff`. They are sorted, so binary search: O(log L) reads.
fn live<S: LogSlots + ?Sized>(slots: &S, ring: u64, pos: u64, count: u64, cutoff: Nanos) -> u64 {
    // Find the number of newest entries with t > cutoff.
    let (mut lo, mut hi) = (0, count);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if entry(slots, ring, pos, mid) > cutoff {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

pub(crate) fn decide<S: LogSlots + ?Sized>(
    p: &Params,
    head: LogHead,
    slots: &S,
    now: Nanos,
    n: u64,
) -> (Option<LogHead>, Decision) {
    let ring = slots.ring_len().max(1);
    // Only the newest `L` entries can decide: older ones are older than the blocker.
    let l = p.limit.min(ring);
    let now_eff = now.max(head.t_last);
    // Entries at or before the cutoff have left (now_eff - P, now_eff].
    let cutoff = now_eff.saturating_sub(p.period);
    let in_window = |t: Nanos| now_eff < p.period || t > cutoff;
    let filled = head.filled.min(ring);
    let pos = head.pos % ring;
    // The (L-n+1)-th newest entry, if the log holds that many: once it has left
    // the window, at most L - n entries are in it.
    let blocker = (filled + n > l).then(|| entry(slots, ring, pos, l + 1 - n));
    let mut d = p.blank_decision(false);
    match blocker {
        Some(t) if in_window(t) => {
            let newest = filled.min(l);
            let live_now = if now_eff < p.period {
                newest
            } else {
                live(slots, ring, pos, newest, cutoff)
            };
            d.remaining_num = l - live_now;
            d.reset_after = head.t_last.saturating_add(p.period).saturating_sub(now);
            d.retry_after = t.saturating_add(p.period).saturating_sub(now);
            (None, d)
        }
        _ => {
            let next = LogHead {
                pos: (pos + n) % ring,
                filled: (filled + n).min(ring),
                n_last: n,
                owner: head.owner,
                gen: head.gen.wrapping_add(1) & MASK8,
                t_last: now_eff,
            };
            let older = filled.min(l - n);
            let live_older = if now_eff < p.period {
                older
            } else {
                live(slots, ring, pos, older, cutoff)
            };
            d.allowed = true;
            d.remaining_num = l - n - live_older;
            d.reset_after = now_eff.saturating_add(p.period) - now;
            (Some(next), d)
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn head_packs_losslessly() {
        let h = LogHead {
            pos: 65_534,
            filled: 65_535,
            n_last: 7,
            owner: 0x9A,
            gen: 0xEF,
            t_last: u64::MAX - 3,
        };
        assert_eq!(LogHead::unpack(h.pack()), h);
        assert_eq!(LogHead::unpack(0), LogHead::default());
    }
}
