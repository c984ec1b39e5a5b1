//! Giving back an admission: what a stacked check does to the quotas that admitted
//! a request a later quota denied. Pure, like every algorithm function, and exact
//! or nothing: a refund never leaves a state that admits more than it would had the
//! admission never happened, so where that cannot be known it gives nothing back
//! (the stack then admits less, never more).

use super::{Algorithm, Params};
use crate::clock::Nanos;

/// The state `current` with the admission that moved `before` to `after` (cost
/// `cost`, at `now`) taken back; `None` to leave it as it is.
pub(crate) fn refund(
    p: &Params,
    current: u64,
    before: u64,
    after: u64,
    now: Nanos,
    cost: u64,
) -> Option<u64> {
    match p.algorithm {
        // Only if nothing came after it: a later admission's TAT depends on ours in
        // ways (`max(TAT, now)`) that subtracting `cost·T` would not undo. A TAT at
        // or before `now` means a full bucket, as `now` does.
        Algorithm::TokenBucket | Algorithm::LeakyBucket => {
            (current == after).then_some(before.max(now))
        }
        // Counts add up: taking ours out of the same window is exact.
        Algorithm::FixedWindow => {
            let same_window = current / p.radix == after / p.radix;
            (same_window && current % p.radix >= cost).then(|| current - cost)
        }
        Algorithm::SlidingWindowCounter => {
            let r = p.radix;
            let (k, k_after) = (current / r / r, after / r / r);
            if k == k_after && current % r >= cost {
                // Still the current window's count.
                Some(current - cost)
            } else if k == k_after.wrapping_add(1) && (current / r) % r >= cost {
                // Now the previous window's.
                Some(current - cost * r)
            } else {
                None
            }
        }
        // A log's entries are shared by every later admission's test: not given back.
        Algorithm::SlidingWindowLog => None,
    }
}
