//! The keyed table: a fixed array of 128-bit slots, open-addressed in groups.
//!
//! # Layout
//!
//! Slots are grouped eight to a 128-byte group (two adjacent cache lines, which
//! the adjacent-line prefetcher fetches together). A key hashes (seeded `ahash`,
//! random per table) to a 56-bit tag (see Identity), to two candidate groups, one in each half
//! of the table, and to a home slot in each; it lives in one slot of one of them.
//! Its candidates have one fixed order: the first group home line first (the
//! home, the rest of the home's cache line, the other line), then the second
//! group likewise. A new key takes the first free slot, in that order, of the
//! less loaded group, the left one on a tie.
//! That is Vöcking's "always go left" (d-left) placement, which keeps groups
//! more even than two choices anywhere in the table, so that a table sized by
//! `SLOTS_PER_KEY_X100` holds its capacity without evicting (BENCHMARKS.md has
//! the fills), and it leaves most keys at a home and nearly all within a home's
//! cache line. A check looks at the homes first (both at once in a large table,
//! see `update_hash`), then at the rest of both groups side by side, each home
//! line first (`scan_near`: read-only, so free to take the groups in another
//! order than claims and their resolution, which keep the fixed one).
//!
//! # Finding a key
//!
//! | name | does | used by |
//! |---|---|---|
//! | `update_hash` | homes inline, then `scan_near`, then `update` | every check |
//! | `locate` | the key's confirmed slot, resolving a pending claim of it first | everything off the hot path |
//! | `locate_or_claim` | `locate`, claiming a slot for a new key | the keyed log |
//! | `state_of` | the state word in the key's slot | `peek` |
//!
//! Memory is `groups × 128` bytes, fixed at build: nothing ever allocates
//! afterwards, whatever keys arrive. A flood of new keys can only displace other
//! keys, never grow the table, and since probing never leaves a key's two groups,
//! crafted collisions can hurt those two groups at most.
//!
//! Identity: a slot stores a 56-bit tag, the key's 64-bit hash's low 55 bits and a
//! marker bit (so no tag is 0), and the first candidate group is taken from the hash's high bits, so
//! with at least 512 groups in the left half a tag and a first group pin down all
//! 64 bits. Two of
//! `n` live keys share a slot with probability about
//! `n²/2 · (2⁻⁶⁴ + 2·2⁻⁵⁵/groups)`: 2.7e-8 at 1M keys.
//!
//! # Slot state machine
//!
//! A slot word is `(tag, version, pending, state)` ([`slot`]). Every transition is
//! one compare-exchange of the whole 128-bit word, so identity and state always
//! change together:
//!
//! ```text
//!                  claim (K's tag, state 0)               confirm
//!   Empty / Dead ---------------------------> Pending(K) ----------> Owned(K, s)
//!      ^   ^                                    |                     |  |  ^
//!      |   +------------ release / kill --------+                     |  +--+ update (check)
//!      |                                                              |
//!      +------ remove (reset) / purge (expired) ----------------------+
//!   Owned(V, s) with s expired is Dead: claimable like Empty.
//!   Owned(V, s) live may be claimed as a victim (eviction) when both groups are full.
//! ```
//!
//! *Dead* is not a separate word: a slot whose state has expired (as the
//! algorithm defines it) means exactly what an empty slot means, and is reclaimed
//! lazily by the next claim.
//!
//! The only delicate transition is the claim, because a key must never own two
//! slots: two threads checking the same new key at once, or one claiming an empty
//! slot while another claims a different slot that just expired, would otherwise
//! create two cells and lose updates. Claims are therefore *pending* until
//! resolved: after claiming, a thread scans the key's other candidate slots with
//! read-modify-write reads (so that of two claimants at least one sees the other,
//! as in Dekker's protocol) and
//!
//! * if the key is already confirmed elsewhere, releases its claim;
//! * if another pending claim of the key sits earlier in the key's candidate
//!   order, releases its claim (the earlier one wins);
//! * if one sits later, kills it (its owner will find out and retry);
//! * otherwise confirms its claim.
//!
//! A thread that finds the key pending (no confirmed slot) runs the same
//! resolution itself instead of waiting, so no thread ever waits for another:
//! every retry means another thread's transition succeeded (lock-free). The version
//! in the slot word makes a stale copy of a pending slot useless once the slot has
//! changed hands (ABA).

mod bulk;
mod claim;
mod logs;
mod placement;
pub(crate) mod slot;

pub use logs::KeyedLogs;
pub(crate) use placement::{random_seeds, Probe};

use crate::clock::Nanos;
use crate::sync::{AtomicU128, AtomicU64, Ordering};
use alloc::boxed::Box;
use alloc::vec::Vec;
use slot::Slot;

/// Slots per group: a group is two cache lines. Loom models use two slots, which
/// keeps their state spaces small without changing any protocol step.
pub(crate) const GROUP_SLOTS: usize = if cfg!(loom) { 2 } else { 8 };

/// Slots per key of capacity: the least with which d-left placement into groups
/// of eight held a full table without eviction (BENCHMARKS.md, "Placement").
const SLOTS_PER_KEY_X100: usize = 146;

/// Tables of more groups than this (1 MiB of slots) read both of a key's homes
/// at once (see `update_hash`); smaller ones read the second only when the first
/// does not hold the key. (Loom models run both ways on their small tables.)
const READ_BOTH_HOMES_ABOVE: usize = 8192;

/// Fewest groups: keeps at least 9 bits of the first group (one of 512 in the
/// left half) in every key's identity.
const MIN_GROUPS: usize = if cfg!(loom) { 1 } else { 1024 };

/// What to do when a new key's two groups are full of live keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
#[non_exhaustive]
pub enum FullPolicy {
    /// Evict the live key whose state expires soonest (it has the least left to
    /// enforce) and count it in [`Stats::evicted`](crate::Stats::evicted). (In the
    /// rare moment when every candidate slot is another key's claim in progress,
    /// the new key is denied once, with a retry of 1 ns, rather than wait.)
    #[default]
    EvictSoonestExpiring,
    /// Deny the new key until a slot frees up; existing keys are never displaced.
    Deny,
}

/// How a [`StateStore::transition`](crate::store::StateStore::transition) ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transition {
    /// The admission ran against `seen` (the key's state word, 0 if it had none)
    /// and its answer, if any, was installed; `evicted` live keys made room.
    Ran {
        /// The state word the admission decided on.
        seen: u64,
        /// Live keys evicted to make room for this one.
        evicted: u32,
    },
    /// No room for this new key: both its groups are full of live keys and the
    /// policy is `Deny` (a slot frees up at `free_at` at the latest), or, under
    /// either policy, every candidate slot is another key's claim in progress
    /// (`free_at` is now: this thread does not wait for those claims).
    Full {
        /// When a slot frees up at the latest.
        free_at: Nanos,
    },
}

#[cfg_attr(not(loom), repr(align(128)))]
pub(crate) struct Group {
    slots: [AtomicU128; GROUP_SLOTS],
}

impl Group {
    fn new() -> Self {
        Self {
            slots: core::array::from_fn(|_| AtomicU128::new(0)),
        }
    }
}

pub(crate) struct Table {
    groups: Box<[Group]>,
    /// Whether checks read both homes at once (`READ_BOTH_HOMES_ABOVE`).
    read_both_homes: bool,
    /// ahash's four seeds. Atomic only so that a snapshot restore (through `&self`)
    /// can adopt the file's seeds; a probe rebuilds the hasher from them, which is
    /// four XORs.
    seeds: [AtomicU64; 4],
}

impl Table {
    /// Room for `capacity` live keys; `None` if that memory cannot be had.
    pub(crate) fn new(capacity: usize, seeds: [u64; 4]) -> Option<Self> {
        let slots = capacity.checked_mul(SLOTS_PER_KEY_X100)? / 100;
        Self::with_groups(slots.div_ceil(GROUP_SLOTS).max(MIN_GROUPS), seeds)
    }

    pub(crate) fn with_groups(groups: usize, seeds: [u64; 4]) -> Option<Self> {
        let count = groups.max(1);
        let mut v: Vec<Group> = Vec::new();
        // Fallible: an absurd capacity is a typed error, not an abort.
        v.try_reserve_exact(count).ok()?;
        v.extend((0..count).map(|_| Group::new()));
        Some(Self {
            groups: v.into_boxed_slice(),
            read_both_homes: count > READ_BOTH_HOMES_ABOVE,
            seeds: seeds.map(AtomicU64::new),
        })
    }

    used_by_snapshots! {
        /// The hash seeds (snapshots carry them: a restored table must hash alike).
        pub(crate) fn seeds(&self) -> [u64; 4] {
            // Relaxed: see `probe`.
            core::array::from_fn(|i| self.seeds[i].load(Ordering::Relaxed))
        }
    }

    used_by_snapshots! {
        /// Adopts other seeds (a snapshot restore, which rewrites every slot right after).
        pub(crate) fn set_seeds(&self, seeds: [u64; 4]) {
            for (cell, seed) in self.seeds.iter().zip(seeds) {
                // Relaxed: see `probe`.
                cell.store(seed, Ordering::Relaxed);
            }
        }
    }

    used_by_snapshots! {
        pub(crate) fn group_count(&self) -> usize {
            self.groups.len()
        }
    }

    used_by_snapshots! {
        /// The raw 128-bit word of slot `idx` (snapshots).
        pub(crate) fn slot_word(&self, idx: usize) -> u128 {
            self.load(idx).0
        }
    }

    /// Writes slot `idx` directly (tests that move keys in the middle of a save).
    #[cfg(all(test, feature = "std", not(loom)))]
    pub(crate) fn install(&self, idx: usize, word: u128) {
        // Release: a check that sees the restored word sees it whole, with what
        // the restoring thread did before (the seeds).
        self.cell(idx).store(word, Ordering::Release);
    }

    pub(crate) fn slot_count(&self) -> usize {
        self.groups.len() * GROUP_SLOTS
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.groups.len() * core::mem::size_of::<Group>()
    }

    #[inline]
    fn cell(&self, idx: usize) -> &AtomicU128 {
        &self.groups[idx / GROUP_SLOTS].slots[idx % GROUP_SLOTS]
    }

    #[inline]
    fn load(&self, idx: usize) -> Slot {
        // Acquire: the word publishes other memory only from a restore (the slot's
        // log and the seeds, see `replace_all`); tag, version and state are the one
        // word, so claims and checks publish nothing through it.
        Slot(self.cell(idx).load(Ordering::Acquire))
    }

    #[inline]
    fn cas(&self, idx: usize, from: Slot, to: Slot) -> Result<(), Slot> {
        // AcqRel: a transition publishes no other memory (claims are resolved by
        // the RMWs' single order, see `load_latest`), so the Acquire side only
        // keeps a transition after a restore's log and seeds, like `load`.
        self.cell(idx)
            .compare_exchange(from.0, to.0, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| ())
            .map_err(Slot)
    }

    /// The slot's latest value, read by a read-modify-write (a compare-exchange
    /// that writes back what it read). Claims and resolution scans must be ordered
    /// like Dekker's protocol (each claimant sees the other's claim), which plain
    /// acquire loads do not guarantee; RMWs on one location are totally ordered.
    fn load_latest(&self, idx: usize) -> Slot {
        let mut s = self.load(idx);
        loop {
            match self.cas(idx, s, s) {
                Ok(()) => return s,
                Err(now) => s = now,
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests;

#[cfg(all(test, loom))]
mod loom_tests;
