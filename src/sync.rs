//! The one door through which every atomic in the crate passes.
//!
//! Under `--cfg loom` the types below are loom's, so the model checker sees every
//! load, store and compare-exchange the protocols make; otherwise they are the
//! standard ones. Nothing else in the crate names `core::sync::atomic` directly.
//! (The layout follows tokio's `src/loom/`: code written against this module reads
//! exactly like ordinary atomic code.)

#[cfg(not(loom))]
mod imp {
    pub(crate) use alloc::sync::Arc;
    pub(crate) use core::sync::atomic::{AtomicU64, Ordering};
    pub(crate) use portable_atomic::AtomicU128;
}

#[cfg(loom)]
mod imp {
    pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};
    pub(crate) use loom::sync::Arc;

    /// loom has no 128-bit atomic; a loom mutex gives the model the same
    /// linearizable load / store / compare-exchange, and loom still explores every
    /// interleaving around it.
    #[derive(Debug)]
    pub(crate) struct AtomicU128(loom::sync::Mutex<u128>);

    impl AtomicU128 {
        pub(crate) fn new(v: u128) -> Self {
            Self(loom::sync::Mutex::new(v))
        }
        pub(crate) fn load(&self, _order: Ordering) -> u128 {
            *self.0.lock().unwrap()
        }
        pub(crate) fn store(&self, v: u128, _order: Ordering) {
            *self.0.lock().unwrap() = v;
        }
        pub(crate) fn compare_exchange(
            &self,
            current: u128,
            new: u128,
            _success: Ordering,
            _failure: Ordering,
        ) -> Result<u128, u128> {
            let mut guard = self.0.lock().unwrap();
            if *guard == current {
                *guard = new;
                Ok(current)
            } else {
                Err(*guard)
            }
        }
    }
}

pub(crate) use imp::*;

/// Whether the 128-bit compare-exchange runs as one instruction on this CPU (see
/// [`crate::is_lock_free`]).
#[cfg(not(loom))]
pub(crate) fn u128_is_lock_free() -> bool {
    portable_atomic::AtomicU128::is_lock_free()
}
