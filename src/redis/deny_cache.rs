//! The local deny cache: a key Redis denied is answered here until its retry time.
//!
//! A client that keeps sending while denied would otherwise cost a round trip per
//! request, all of them denied. After Redis denies a unit-cost request, the key's
//! retry moment (on this process's clock: the local time plus the retry time Redis
//! gave, so no clock needs to agree with another) goes into a small in-process
//! table, the crate's own lock-free [`MemoryStore`], bounded like every table here;
//! until that moment, checks of the key are denied locally.
//!
//! The trade: what changes in Redis meanwhile is seen late, by at most the retry
//! time. A [`reset`](super::RedisLimiter::reset) from another process, or a quota
//! raised elsewhere, does not reach this process's cached denials before they run
//! out (this process's own `reset` clears its entry). A denial is never early: the
//! request would have been denied by Redis too, unless something reset the key.
//! Denials of larger costs are not cached (a smaller request may fit sooner), and
//! every cost is answered from a cached unit-cost denial (no cost fits before a
//! unit does).

use crate::clock::{Clock, DefaultClock, Nanos};
use crate::store::MemoryStore;
use crate::store::StateStore;

pub(crate) struct DenyCache {
    store: MemoryStore<DefaultClock>,
    clock: DefaultClock,
}

impl core::fmt::Debug for DenyCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DenyCache")
            .field("capacity", &self.store.capacity())
            .finish()
    }
}

impl DenyCache {
    /// A cache of room for `capacity` keys; `None` for 0 or a capacity that
    /// cannot be allocated.
    pub(crate) fn new(capacity: usize) -> Option<Self> {
        if capacity == 0 {
            return None;
        }
        let clock = DefaultClock::new();
        let store = MemoryStore::with_clock(capacity, clock.clone()).ok()?;
        Some(Self { store, clock })
    }

    /// How long `hash` stays denied, if it is.
    pub(crate) fn denied_for(&self, hash: u64) -> Option<Nanos> {
        let now = self.clock.now();
        self.store
            .state(&hash)
            .filter(|&until| until > now)
            .map(|until| until - now)
    }

    /// Remembers that `hash` is denied for `retry` from now.
    pub(crate) fn remember(&self, hash: u64, retry: Nanos) {
        let now = self.clock.now();
        let until = now.saturating_add(retry);
        // A full table keeps its live denials: this one is then asked of Redis.
        let _ = self.store.transition(&hash, now, |w| w, |_| Some(until));
    }

    pub(crate) fn forget(&self, hash: u64) {
        self.store.forget(&hash);
    }
}
