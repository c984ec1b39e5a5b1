//! The keyed table's logs: one per slot of the table, allocated at build.

use super::log::LogRef;
use crate::sync::{AtomicU128, AtomicU64};
use alloc::boxed::Box;
use alloc::vec::Vec;

/// The keyed table's logs: one per slot, `limit` entries each, allocated at build.
pub(crate) struct LogArena {
    heads: Box<[AtomicU128]>,
    slots: Box<[AtomicU64]>,
    limit: usize,
}

impl LogArena {
    /// `None` if the memory cannot be had.
    pub(crate) fn new(logs: usize, limit: u64) -> Option<Self> {
        let limit = usize::try_from(limit).ok()?.max(1);
        let mut heads = Vec::new();
        heads.try_reserve_exact(logs).ok()?;
        heads.extend((0..logs).map(|_| AtomicU128::new(0)));
        let mut slots = Vec::new();
        slots.try_reserve_exact(logs.checked_mul(limit)?).ok()?;
        slots.extend((0..logs * limit).map(|_| AtomicU64::new(0)));
        Some(Self {
            heads: heads.into_boxed_slice(),
            slots: slots.into_boxed_slice(),
            limit,
        })
    }

    pub(crate) fn at(&self, idx: usize) -> LogRef<'_> {
        LogRef {
            head: &self.heads[idx],
            slots: &self.slots[idx * self.limit..(idx + 1) * self.limit],
        }
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    pub(crate) fn bytes(&self) -> usize {
        self.heads.len() * 16 + self.slots.len() * 8
    }

    /// What `new(logs, limit)` allocates, in bytes (saturating).
    pub(crate) fn bytes_for(logs: usize, limit: u64) -> u64 {
        (logs as u64).saturating_mul(limit.max(1).saturating_mul(8).saturating_add(16))
    }
}
