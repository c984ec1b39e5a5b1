//! Where a key may live: its hash under the table's seeds, its 56-bit tag, its
//! two candidate groups (one in each half of the table) and a home slot in each,
//! and the one fixed order of its candidates.

use super::slot::tag_of;
use super::{Table, GROUP_SLOTS};
use crate::sync::Ordering;
use core::hash::Hash;

/// Four seeds from ahash's randomly seeded state (getrandom under `std`): a new
/// table's hash keys, random so that nobody can craft keys that collide.
pub(crate) fn random_seeds() -> [u64; 4] {
    let random = ahash::RandomState::new();
    core::array::from_fn(|i| random.hash_one(i as u64))
}

/// Where a key may live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Probe {
    /// The key's hash, which the rest is derived from.
    pub hash: u64,
    pub tag: u64,
    /// Two candidate groups (the same one twice only in a one-group table).
    pub groups: [usize; 2],
}

/// Bits of a slot index within a group.
pub(super) const SLOT_BITS: u32 = GROUP_SLOTS.trailing_zeros();
const _: () = assert!(GROUP_SLOTS.is_power_of_two());

impl Probe {
    /// The key's home slot in group `g` (0 or 1): its scan of the group starts
    /// there (see `candidates`), and a claim takes the first free slot in that
    /// order, so most keys sit at their home. Taken from the tag's low bits
    /// (distinct bits for each group), which are independent in effect of the
    /// group indexes: the first comes from the hash's high bits, the second from
    /// a remix of it.
    #[inline(always)]
    pub(crate) fn home(&self, g: usize) -> usize {
        (self.tag >> (SLOT_BITS * g as u32)) as usize % GROUP_SLOTS
    }
}

/// murmur3's finalizer: a bijective mix, so the second group index is an
/// independent-looking function of the same 64-bit hash.
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// `h` mapped onto `0..n` by multiply-shift (no power-of-two rounding, so memory
/// follows the requested capacity closely).
fn reduce(h: u64, n: usize) -> usize {
    ((u128::from(h) * n as u128) >> 64) as usize
}

impl Table {
    /// The key's 64-bit hash under the table's seeds.
    #[inline(always)]
    pub(crate) fn hash<K: Hash + ?Sized>(&self, key: &K) -> u64 {
        // Relaxed: the seeds only change during a restore, and a check racing a
        // restore may see the key absent or misplaced (documented on restore).
        let [a, b, c, d] = core::array::from_fn(|i| self.seeds[i].load(Ordering::Relaxed));
        ahash::RandomState::with_seeds(a, b, c, d).hash_one(key)
    }

    #[inline]
    pub(crate) fn probe<K: Hash + ?Sized>(&self, key: &K) -> Probe {
        self.probe_hash(self.hash(key))
    }

    /// The key's first candidate group, in the left half of the table (from the
    /// hash's high bits).
    #[inline(always)]
    pub(super) fn first_group(&self, h: u64) -> usize {
        reduce(h, self.groups.len() / 2)
    }

    /// The key's second candidate group, in the right half (from a remix of the
    /// hash); the first group itself only in a one-group table.
    #[inline(always)]
    pub(super) fn second_group(&self, h: u64) -> usize {
        let n = self.groups.len();
        n / 2 + reduce(mix(h), n - n / 2)
    }

    #[inline]
    pub(crate) fn probe_hash(&self, h: u64) -> Probe {
        let a = self.first_group(h);
        let b = self.second_group(h);
        Probe {
            hash: h,
            tag: tag_of(h),
            groups: [a, b],
        }
    }

    /// The key's candidate slots, in its fixed order (the order decides which of
    /// two pending claims wins): in each group, slot `home ^ i` for `i` in
    /// `0..GROUP_SLOTS`, which is the home, then the rest of the home's cache
    /// line (slots 0-3 and 4-7 share one), then the other line. A claim fills a
    /// group in this order, so most keys that miss their home still sit in its
    /// line (about 7 in 8 of them in a full table) and are found without a
    /// further cache miss.
    #[inline]
    pub(super) fn candidates(&self, p: &Probe) -> impl Iterator<Item = usize> {
        let second = (p.groups[1] != p.groups[0]).then_some((p.groups[1], p.home(1)));
        core::iter::once((p.groups[0], p.home(0)))
            .chain(second)
            .flat_map(|(g, home)| (0..GROUP_SLOTS).map(move |i| g * GROUP_SLOTS + (home ^ i)))
    }
}
