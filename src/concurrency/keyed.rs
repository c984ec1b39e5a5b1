//! In-flight limits per key: at most `max` permits out per key, in the bounded
//! lock-free table.
//!
//! A key's state word is one more than its count of permits out (the table
//! keeps a state of 0 for a key whose first admission is in progress, which it
//! never hands to another key). The table's notion of expiry is borrowed to say
//! which keys may give up their room: a count of 0 (state 1) has "expired" (the
//! slot is free for any key, exactly as if the key had none), any other count
//! never expires. Under [`FullPolicy::Deny`] the table never evicts a
//! live key, so a key with permits out keeps its slot until its last permit comes
//! back, and every release lands on its own count; a new key that finds its
//! groups full of keys with permits out is refused. Taking and giving back a
//! permit are each one compare-exchange of the key's slot word (the table's
//! `update_hash`), AcqRel: the last holder's work happens-before the next
//! holder's, as for [`ConcurrencyLimiter`](super::ConcurrencyLimiter).

use crate::clock::Nanos;
use crate::error::BuildError;
use crate::store::Transition;
use crate::table::{FullPolicy, Table};
use alloc::sync::Arc;
use core::fmt;
use core::hash::Hash;

/// The table's `now` for in-flight counts: expiry is 0 (free) or never, so any
/// time between works.
const NOW: Nanos = 1;

/// A key's state word: one more than its count.
const fn state(count: u64) -> u64 {
    count + 1
}

/// The count in a state word (0 for no state).
const fn count(state: u64) -> u64 {
    state.saturating_sub(1)
}

/// A key with no permits out frees its room; any other never does.
fn expires(state: u64) -> Nanos {
    if count(state) == 0 {
        0
    } else {
        Nanos::MAX
    }
}

/// At most `max` permits out per key (nginx `limit_conn`), for up to `capacity`
/// keys with permits out at once, in fixed memory and without locks.
///
/// A key with permits out is never evicted, so a permit given back always lands
/// on its own key's count; when a new key finds no room (its candidate slots all
/// hold keys with permits out), it is refused, never another key's permits lost.
/// A key's room is free again as soon as its last permit comes back.
///
/// ```
/// use ratecell::KeyedConcurrencyLimiter;
///
/// let c = KeyedConcurrencyLimiter::new(2, 10_000)?;
/// let a1 = c.try_acquire("10.0.0.1").expect("room for two");
/// let _a2 = c.try_acquire("10.0.0.1").expect("room for two");
/// assert!(c.try_acquire("10.0.0.1").is_none());
/// assert!(c.try_acquire("10.0.0.2").is_some()); // every key has its own count
/// assert_eq!(c.in_flight("10.0.0.1"), 2);
/// drop(a1);
/// assert_eq!(c.in_flight("10.0.0.1"), 1);
/// # Ok::<(), ratecell::BuildError>(())
/// ```
///
/// Only `try_acquire` is offered: a key's count lives in a 128-bit slot, which no
/// thread can sleep on.
pub struct KeyedConcurrencyLimiter {
    table: Table,
    max: u32,
    capacity: usize,
}

impl KeyedConcurrencyLimiter {
    /// A limiter of `max` permits per key, with room for `capacity` keys holding
    /// permits at once.
    ///
    /// Fails with [`BuildError::ZeroPermits`], [`BuildError::TooManyPermits`]
    /// (above [`ConcurrencyLimiter::MAX_PERMITS`](super::ConcurrencyLimiter::MAX_PERMITS)),
    /// [`BuildError::ZeroCapacity`] or [`BuildError::CapacityTooLarge`].
    pub fn new(max: u32, capacity: usize) -> Result<Self, BuildError> {
        if capacity == 0 {
            return Err(BuildError::ZeroCapacity);
        }
        let table = Table::new(capacity, crate::table::random_seeds())
            .ok_or(BuildError::CapacityTooLarge(capacity))?;
        Self::with_table(table, max, capacity)
    }

    pub(crate) fn with_table(table: Table, max: u32, capacity: usize) -> Result<Self, BuildError> {
        if max == 0 {
            return Err(BuildError::ZeroPermits);
        }
        if max > super::ConcurrencyLimiter::MAX_PERMITS {
            return Err(BuildError::TooManyPermits(max));
        }
        Ok(Self {
            table,
            max,
            capacity,
        })
    }

    /// The most permits out at once per key.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// The number of keys the limiter was built to hold with permits out.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes the limiter allocated; fixed at build.
    pub fn memory_bytes(&self) -> usize {
        self.table.memory_bytes() + core::mem::size_of::<Self>()
    }

    /// The permits out now for `key` (a snapshot: other threads may change it).
    pub fn in_flight<K: Hash + ?Sized>(&self, key: &K) -> u32 {
        let state = self.table.state_of(&self.table.probe(key)).unwrap_or(0);
        count(state).min(u64::from(u32::MAX)) as u32
    }

    /// A permit for `key`, if it has fewer than `max` out and there is room for
    /// it; never blocks.
    #[inline]
    pub fn try_acquire<K: Hash + ?Sized>(&self, key: &K) -> Option<KeyedPermit<'_>> {
        let hash = self.take(key)?;
        Some(KeyedPermit {
            limiter: self,
            hash,
        })
    }

    /// A permit that owns a handle on the limiter, for moving into a thread or task.
    #[inline]
    pub fn try_acquire_owned<K: Hash + ?Sized>(
        self: &Arc<Self>,
        key: &K,
    ) -> Option<OwnedKeyedPermit> {
        let hash = self.take(key)?;
        Some(OwnedKeyedPermit {
            limiter: Arc::clone(self),
            hash,
        })
    }

    /// Takes a permit for `key`; its hash, to give it back by.
    fn take<K: Hash + ?Sized>(&self, key: &K) -> Option<u64> {
        let hash = self.table.hash(key);
        let max = u64::from(self.max);
        let admit = |s: u64| (count(s) < max).then(|| state(count(s) + 1));
        match self
            .table
            .update_hash(hash, NOW, FullPolicy::Deny, expires, admit)
        {
            Transition::Ran { seen, .. } if count(seen) < max => Some(hash),
            _ => None,
        }
    }

    /// Gives back a permit of the key whose hash is `hash`.
    fn release(&self, hash: u64) {
        // The key holds this permit, so its count is at least 1 and its slot its
        // own (see the module docs); a count of 0 would change nothing.
        let give = |s: u64| (count(s) > 0).then(|| state(count(s) - 1));
        let _ = self
            .table
            .update_hash(hash, NOW, FullPolicy::Deny, expires, give);
    }
}

impl fmt::Debug for KeyedConcurrencyLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedConcurrencyLimiter")
            .field("max", &self.max)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// One permit of a [`KeyedConcurrencyLimiter`] for one key, given back when
/// dropped.
#[must_use = "a permit is given back as soon as it is dropped"]
pub struct KeyedPermit<'a> {
    limiter: &'a KeyedConcurrencyLimiter,
    hash: u64,
}

impl Drop for KeyedPermit<'_> {
    #[inline]
    fn drop(&mut self) {
        self.limiter.release(self.hash);
    }
}

impl fmt::Debug for KeyedPermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedPermit").finish_non_exhaustive()
    }
}

/// A [`KeyedPermit`] that holds its limiter by `Arc`, so it can move into a thread
/// or task; given back when dropped.
#[must_use = "a permit is given back as soon as it is dropped"]
pub struct OwnedKeyedPermit {
    limiter: Arc<KeyedConcurrencyLimiter>,
    hash: u64,
}

impl OwnedKeyedPermit {
    /// The limiter this permit belongs to.
    pub fn limiter(&self) -> &Arc<KeyedConcurrencyLimiter> {
        &self.limiter
    }
}

impl Drop for OwnedKeyedPermit {
    #[inline]
    fn drop(&mut self) {
        self.limiter.release(self.hash);
    }
}

impl fmt::Debug for OwnedKeyedPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedKeyedPermit").finish_non_exhaustive()
    }
}
