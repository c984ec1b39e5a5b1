//! `MemoryStore`: the table as a store, without locks.

use super::{Backend, BackendError, StateStore, Transition};
use crate::cell::LogArena;
use crate::clock::{duration_to_nanos, Clock, DefaultClock, Nanos};
use crate::error::BuildError;
use crate::table::KeyedLogs;
use crate::table::{FullPolicy, Table};
use core::hash::Hash;
use core::time::Duration;

const SECOND: Nanos = 1_000_000_000;
const NEVER: u64 = u32::MAX as u64;

/// A fixed-capacity, lock-free, in-memory store: the keyed limiters' table, also
/// usable directly through the seed's [`Backend`] contract.
///
/// As a [`Backend`], an entry holds a 32-bit value and an expiry in whole seconds
/// on the timeline (a time-to-live is rounded up to the next second), packed with
/// the key's tag into one 16-byte slot. Capacity and memory are fixed at build; when
/// a new key finds no room, the [`FullPolicy`] evicts the entry that expires soonest
/// (or refuses with [`BackendError::Full`]).
///
/// ```
/// use ratecell::store::{Backend, MemoryStore};
/// use ratecell::ManualClock;
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let store = MemoryStore::with_clock(1_000, clock.clone())?;
/// assert_eq!(store.increment("hits", 1, Some(Duration::from_secs(60)))?, 1);
/// assert_eq!(store.increment("hits", 2, Some(Duration::from_secs(60)))?, 3);
/// clock.advance(Duration::from_secs(60));
/// assert_eq!(store.get("hits")?, None); // expired with its window
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MemoryStore<C = DefaultClock> {
    table: Table,
    clock: C,
    policy: FullPolicy,
    capacity: usize,
    /// Per-slot logs, for a sliding-window-log limiter only.
    logs: Option<LogArena>,
}

impl<C> core::fmt::Debug for MemoryStore<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("capacity", &self.capacity)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "std")]
impl MemoryStore {
    /// A store for `capacity` keys on the default clock, with random hash seeds.
    pub fn new(capacity: usize) -> Result<Self, BuildError> {
        Self::with_clock(capacity, DefaultClock::new())
    }
}

impl<C: Clock> MemoryStore<C> {
    /// A store for `capacity` keys reading time from `clock`.
    pub fn with_clock(capacity: usize, clock: C) -> Result<Self, BuildError> {
        Self::from_parts(
            capacity,
            clock,
            FullPolicy::default(),
            crate::table::random_seeds(),
        )
    }

    /// The same store, with another policy for new keys that find no room.
    pub fn with_full_policy(mut self, policy: FullPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub(crate) fn from_parts(
        capacity: usize,
        clock: C,
        policy: FullPolicy,
        seeds: [u64; 4],
    ) -> Result<Self, BuildError> {
        if capacity == 0 {
            return Err(BuildError::ZeroCapacity);
        }
        let table = Table::new(capacity, seeds).ok_or(BuildError::CapacityTooLarge(capacity))?;
        Ok(Self {
            table,
            clock,
            policy,
            capacity,
            logs: None,
        })
    }

    /// The same, with a log of `limit` entries per slot (sliding-window log), if
    /// the logs fit in `max_bytes`.
    pub(crate) fn with_logs(mut self, limit: u64, max_bytes: u64) -> Result<Self, BuildError> {
        let needed = LogArena::bytes_for(self.table.slot_count(), limit);
        if needed > max_bytes {
            return Err(BuildError::LogsTooLarge {
                needed,
                limit: max_bytes,
            });
        }
        let logs = LogArena::new(self.table.slot_count(), limit)
            .ok_or(BuildError::LogsOutOfMemory { bytes: needed })?;
        self.logs = Some(logs);
        Ok(self)
    }

    /// The number of live keys the store was built to hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes the store allocated; fixed at build.
    pub fn memory_bytes(&self) -> usize {
        self.table.memory_bytes()
            + self.logs.as_ref().map_or(0, LogArena::bytes)
            + core::mem::size_of::<Self>()
    }

    pub(crate) fn table(&self) -> &Table {
        &self.table
    }

    used_by_snapshots! {
        /// The per-slot logs (sliding-window log only). For snapshots.
        pub(crate) fn logs(&self) -> Option<&LogArena> {
            self.logs.as_ref()
        }
    }

    cfg_fuzzing! {
        /// Swaps in another table (for the fuzz harness, which owns its limiter);
        /// returns the old one.
        pub(crate) fn replace_table(&mut self, table: Table) -> Table {
            if let Some(logs) = &self.logs {
                // One log per slot: the logs follow the table's size.
                self.logs = LogArena::new(table.slot_count(), logs.limit() as u64);
            }
            core::mem::replace(&mut self.table, table)
        }
    }

    /// Key-value entries: value in the low half, expiry (whole seconds, `NEVER`
    /// for none) in the high half. A zero word is no entry.
    fn entry_expires(word: u64) -> Nanos {
        match word >> 32 {
            NEVER => Nanos::MAX,
            secs => secs * SECOND,
        }
    }

    fn expiry_word(&self, now: Nanos, ttl: Option<Duration>) -> Result<u64, BackendError> {
        match ttl {
            None => Ok(NEVER << 32),
            Some(ttl) if ttl.is_zero() => Err(BackendError::ZeroTtl),
            Some(ttl) => {
                let secs = now.saturating_add(duration_to_nanos(ttl)).div_ceil(SECOND);
                // NEVER is reserved; a later expiry cannot be stored, and clamping
                // it would write an entry that is dead on arrival.
                if secs >= NEVER {
                    return Err(BackendError::ExpiryOutOfRange);
                }
                Ok(secs << 32)
            }
        }
    }

    fn live_value(&self, word: Option<u64>) -> Option<u64> {
        let now = self.clock.now();
        word.filter(|&w| w != 0 && Self::entry_expires(w) > now)
            .map(|w| w & 0xFFFF_FFFF)
    }
}

impl<C: Clock> Backend for MemoryStore<C> {
    fn get<K: Hash + ?Sized>(&self, key: &K) -> Result<Option<u64>, BackendError> {
        Ok(self.live_value(self.state(key)))
    }

    fn set<K: Hash + ?Sized>(
        &self,
        key: &K,
        value: u64,
        ttl: Option<Duration>,
    ) -> Result<(), BackendError> {
        if value > u64::from(u32::MAX) {
            return Err(BackendError::ValueTooLarge);
        }
        let now = self.clock.now();
        let word = self.expiry_word(now, ttl)? | value;
        match self.transition(key, now, Self::entry_expires, |_| Some(word)) {
            Transition::Ran { .. } => Ok(()),
            Transition::Full { .. } => Err(BackendError::Full),
        }
    }

    fn delete<K: Hash + ?Sized>(&self, key: &K) -> Result<bool, BackendError> {
        let had = self.get(key)?.is_some();
        Ok(self.forget(key) && had)
    }

    fn increment<K: Hash + ?Sized>(
        &self,
        key: &K,
        by: u64,
        ttl: Option<Duration>,
    ) -> Result<u64, BackendError> {
        let now = self.clock.now();
        let fresh = self.expiry_word(now, ttl)?;
        let by = u32::try_from(by).map_err(|_| BackendError::Overflow)?;
        // The same pure step for the attempt and for the answer.
        let step = |w: u64| -> Option<u64> {
            let (value, expiry) = if w != 0 && Self::entry_expires(w) > now {
                (w as u32, w & !0xFFFF_FFFF)
            } else {
                (0, fresh)
            };
            value.checked_add(by).map(|v| expiry | u64::from(v))
        };
        match self.transition(key, now, Self::entry_expires, step) {
            Transition::Ran { seen, .. } => step(seen)
                .map(|w| w & 0xFFFF_FFFF)
                .ok_or(BackendError::Overflow),
            Transition::Full { .. } => Err(BackendError::Full),
        }
    }

    fn clear(&self) -> Result<(), BackendError> {
        self.table.clear();
        Ok(())
    }

    fn close(&self) -> Result<(), BackendError> {
        Ok(())
    }
}

impl<C: Clock> StateStore for MemoryStore<C> {
    #[inline]
    fn transition<K, E, A>(&self, key: &K, now: Nanos, expires: E, admit: A) -> Transition
    where
        K: Hash + ?Sized,
        E: Fn(u64) -> Nanos,
        A: Fn(u64) -> Option<u64>,
    {
        let h = self.table.hash(key);
        self.table.update_hash(h, now, self.policy, expires, admit)
    }

    fn state<K: Hash + ?Sized>(&self, key: &K) -> Option<u64> {
        self.table.state_of(&self.table.probe(key))
    }

    fn forget<K: Hash + ?Sized>(&self, key: &K) -> bool {
        self.table.remove(&self.table.probe(key))
    }

    fn keyed_logs(&self) -> Option<KeyedLogs<'_>> {
        let logs = self.logs.as_ref()?;
        Some(KeyedLogs::new(&self.table, logs, self.policy))
    }
}
