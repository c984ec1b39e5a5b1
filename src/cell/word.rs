//! One 64-bit state word and its compare-exchange loop.

use crate::sync::{AtomicU64, Ordering};

/// One 64-bit state word (token bucket, leaky bucket, both window counters).
///
/// Protocol: load; decide; if allowed, compare-exchange the new word in. A denied
/// request never writes, so a hot key that is over its limit costs readers nothing
/// but a shared cache line. On a lost race the retry starts from the value the
/// exchange returned: no extra load, and every retry means another thread's check
/// succeeded (lock-free). The state word publishes no other memory, so every access
/// is `Relaxed`: single-location coherence and the atomicity of the exchange are all
/// the protocol needs.
#[derive(Debug, Default)]
pub(crate) struct WordCell {
    state: AtomicU64,
}

impl WordCell {
    pub(crate) fn new(state: u64) -> Self {
        Self {
            state: AtomicU64::new(state),
        }
    }

    /// Runs `admit` against the current state until its answer is installed (or it
    /// answers "no change"); returns the state that the final attempt saw.
    #[inline(always)]
    pub(crate) fn update<F>(&self, admit: F) -> u64
    where
        F: Fn(u64) -> Option<u64>,
    {
        // Relaxed: the word is the whole state (see the type's docs).
        let mut current = self.state.load(Ordering::Relaxed);
        loop {
            let Some(next) = admit(current) else {
                return current;
            };
            // Relaxed both ways: see the type's docs. Weak: a spurious failure only
            // costs one more pass, and on LL/SC machines weak is the cheaper loop.
            match self.state.compare_exchange_weak(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return current,
                Err(actual) => current = actual,
            }
        }
    }

    /// The current state.
    #[inline]
    pub(crate) fn load(&self) -> u64 {
        // Relaxed: see the type's docs.
        self.state.load(Ordering::Relaxed)
    }

    /// Replaces the state (reset stores 0: "no state").
    pub(crate) fn store(&self, state: u64) {
        // Relaxed: see the type's docs.
        self.state.store(state, Ordering::Relaxed);
    }
}
