//! Where keyed states live: the contract a keyed limiter runs on
//! ([`StateStore`]), the key-value contract of the Python ancestor's backends
//! ([`Backend`]), and the in-memory store that implements both ([`MemoryStore`]).
//!
//! `MemoryStore` implements both, lock-free, on the fixed-capacity table; the
//! keyed [`Limiter`](crate::Limiter) is generic over its `StateStore`
//! (monomorphized: no `dyn` on the hot path).

use crate::clock::Nanos;
pub use crate::table::{KeyedLogs, Transition};

mod memory;

use core::fmt;
use core::hash::Hash;
use core::time::Duration;
pub use memory::MemoryStore;

/// Why a store refused an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendError {
    /// No room for a new key (the store's policy is [`FullPolicy::Deny`](crate::FullPolicy::Deny)
    /// and the key's slots are all live).
    Full,
    /// The value does not fit the store's values (`MemoryStore`: 32 bits).
    ValueTooLarge,
    /// An increment would overflow the value.
    Overflow,
    /// A time-to-live of zero: the entry would expire as it is written.
    ZeroTtl,
    /// The entry would expire past the last time the store can name
    /// (`MemoryStore`: whole seconds in 32 bits, early in the year 2106).
    ExpiryOutOfRange,
    /// A remote store did not answer in time, or its connection failed.
    Unavailable,
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full => "no room for a new key",
            Self::ValueTooLarge => "value too large for this store",
            Self::Overflow => "increment would overflow the value",
            Self::ZeroTtl => "a time-to-live must be longer than zero",
            Self::ExpiryOutOfRange => "the entry would expire past the store's last time",
            Self::Unavailable => "the remote store did not answer",
        })
    }
}

impl core::error::Error for BackendError {}

/// The key-value contract of the seed's backends, for counters and flags that
/// live beside the limiters (and for code ported from it).
///
/// Every operation is atomic on its key. An entry with a time-to-live is gone for
/// every operation once that time has passed.
pub trait Backend: Send + Sync {
    /// The value under `key`, if it has one that has not expired.
    fn get<K: Hash + ?Sized>(&self, key: &K) -> Result<Option<u64>, BackendError>;

    /// Stores `value` under `key`, replacing any value; it expires after `ttl`
    /// (`None`: never).
    fn set<K: Hash + ?Sized>(
        &self,
        key: &K,
        value: u64,
        ttl: Option<Duration>,
    ) -> Result<(), BackendError>;

    /// Removes `key`; whether it had a live value.
    fn delete<K: Hash + ?Sized>(&self, key: &K) -> Result<bool, BackendError>;

    /// Whether `key` has a live value.
    fn exists<K: Hash + ?Sized>(&self, key: &K) -> Result<bool, BackendError> {
        self.get(key).map(|v| v.is_some())
    }

    /// Atomically adds `by` to the value under `key` (0 if it has none) and
    /// returns the new value. A key created by the increment expires after `ttl`;
    /// an existing key keeps its expiry (like Redis `INCRBY` with `EXPIRE ... NX`,
    /// which is what a fixed-window counter needs).
    fn increment<K: Hash + ?Sized>(
        &self,
        key: &K,
        by: u64,
        ttl: Option<Duration>,
    ) -> Result<u64, BackendError>;

    /// Removes every key.
    fn clear(&self) -> Result<(), BackendError>;

    /// Releases the store's resources; for the in-memory store there are none (its
    /// memory goes when it is dropped), so this is a no-op kept for the contract.
    fn close(&self) -> Result<(), BackendError>;
}

/// One atomic read-modify-write of a key's 64-bit state word: what a keyed
/// limiter needs from its store.
pub trait StateStore: Send + Sync {
    /// Runs `admit` on the key's state word (0 if none) and installs its answer
    /// (`None`: change nothing) atomically, retrying `admit` if the word changed
    /// meanwhile (so `admit` must be pure). `expires` tells when a word means the
    /// same as no word, so its room may be reused.
    fn transition<K, E, A>(&self, key: &K, now: Nanos, expires: E, admit: A) -> Transition
    where
        K: Hash + ?Sized,
        E: Fn(u64) -> Nanos,
        A: Fn(u64) -> Option<u64>;

    /// The key's state word, if it has one.
    fn state<K: Hash + ?Sized>(&self, key: &K) -> Option<u64>;

    /// Forgets the key; whether it had a state.
    fn forget<K: Hash + ?Sized>(&self, key: &K) -> bool;

    /// The per-key logs a keyed sliding-window log runs on, for a store that
    /// keeps them (`None` by default: the builder then refuses that algorithm).
    fn keyed_logs(&self) -> Option<KeyedLogs<'_>> {
        None
    }
}
