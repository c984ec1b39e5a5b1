//! A key's sliding-window log in the table: the key's slot says who owns the log
//! of the same index, and the log is stamped with its owner.

use super::{FullPolicy, Table};
use crate::algorithm::sliding_log::{self, LogHead};
use crate::algorithm::Params;
use crate::cell::{LogArena, LogMode, LogRun, Ownership};
use crate::clock::Nanos;
use crate::decision::Decision;
use core::hash::Hash;

/// The per-key logs of a store that keeps them (only
/// [`MemoryStore`](crate::store::MemoryStore) does): what a keyed
/// [`Algorithm::SlidingWindowLog`](crate::Algorithm::SlidingWindowLog) limiter
/// runs on. Opaque: a store outside this crate cannot make one, so such a store
/// runs every algorithm but the log.
#[derive(Clone, Copy)]
pub struct KeyedLogs<'a> {
    table: &'a Table,
    logs: &'a LogArena,
    policy: FullPolicy,
}

impl core::fmt::Debug for KeyedLogs<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyedLogs")
            .field("limit", &self.logs.limit())
            .finish_non_exhaustive()
    }
}

impl<'a> KeyedLogs<'a> {
    pub(crate) fn new(table: &'a Table, logs: &'a LogArena, policy: FullPolicy) -> Self {
        Self {
            table,
            logs,
            policy,
        }
    }

    /// The largest limit each log holds.
    pub(crate) fn limit(&self) -> u64 {
        self.logs.limit() as u64
    }

    /// Checks (or, with `LogMode::Peek`, answers without consuming or claiming)
    /// cost `cost` for `key` at `now`: the decision, and how many live keys were
    /// evicted to make room.
    ///
    /// The slot's state word is `1 + the newest entry's time` (so expiry and
    /// eviction work as for any state), and the slot's log is stamped with its
    /// owner: a new owner adopts (empties) the log, and a thread whose view of the
    /// owner is stale finds out and looks again. An admission is linearized at the
    /// slot-word exchange that raises the state (which fails if the slot changed
    /// hands), not at the log's head exchange.
    pub(crate) fn check<K: Hash + ?Sized>(
        &self,
        key: &K,
        p: &Params,
        now: Nanos,
        cost: u64,
        mode: LogMode,
    ) -> (Decision, u32) {
        let probe = self.table.probe(key);
        let expires = |s: u64| s.saturating_add(p.period - 1);
        let mut verified = None;
        loop {
            let found = match mode {
                LogMode::Check => {
                    match self
                        .table
                        .locate_or_claim(&probe, now, self.policy, expires)
                    {
                        Ok(found) => Some(found),
                        Err(free_at) => {
                            let mut d = p.blank_decision(false);
                            d.retry_after = free_at.saturating_sub(now).max(1);
                            d.reset_after = d.retry_after;
                            return (d, 0);
                        }
                    }
                }
                LogMode::Peek => self.table.locate(&probe).map(|(idx, s)| (idx, s, 0)),
            };
            let Some((idx, slot, evicted)) = found else {
                // A peek at a key without a log: an empty one.
                let empty = LogHead::default();
                let d = sliding_log::decide(p, empty, self.logs.at(0).slots, now, cost).1;
                return (d, 0);
            };
            let ownership = if verified == Some(slot.meta()) {
                Ownership::Verified
            } else {
                Ownership::AsStamped
            };
            match self
                .logs
                .at(idx)
                .run(p, now, cost, mode, slot.owner_stamp(), ownership)
            {
                LogRun::Done(d, stamped) => {
                    // An admission counts once the slot still proves ours: had the
                    // slot (expired) passed to another key meanwhile, that key adopts
                    // the log and wipes our entry, so we must go again elsewhere.
                    // The slot word's exchange orders the two: a claim of the slot
                    // from its expired word fails once we have raised it.
                    if let Some(t) = stamped {
                        if !self.table.raise_state(idx, slot, t.saturating_add(1)) {
                            continue;
                        }
                    }
                    return (d, evicted);
                }
                // Looked newer: if the slot is still ours after all, the stamps
                // wrapped; take the log over on the next pass.
                LogRun::Stale => verified = Some(slot.meta()),
            }
        }
    }
}
