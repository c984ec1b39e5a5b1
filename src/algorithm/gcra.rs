//! Token bucket and leaky bucket, both as GCRA over one word: the theoretical
//! arrival time (TAT) of the next request if the bucket were drained steadily.
//!
//! `tau = T·(B-1)`. A request of cost `n` is allowed iff
//! `now >= TAT + T·(n-1) - tau`; then `TAT' = max(TAT, now) + n·T`. An absent state
//! is 0, which behaves exactly like `TAT = now` (any TAT at or before `now` is a full
//! bucket). These are governor's decisions, bit for bit, on the same timestamps.

use super::{Algorithm, Params};
use crate::clock::Nanos;
use crate::decision::Decision;

/// The admission alone: `Some(TAT')` iff allowed.
#[inline(always)]
pub(crate) fn admit(p: &Params, tat: Nanos, now: Nanos, n: u64) -> Option<Nanos> {
    let earliest = tat.saturating_add(p.t * (n - 1)).saturating_sub(p.tau);
    if now < earliest {
        return None;
    }
    let start = if tat > now { tat } else { now };
    Some(start.saturating_add(n * p.t))
}

#[inline(always)]
pub(crate) fn decide(p: &Params, tat: Nanos, now: Nanos, n: u64) -> (Option<Nanos>, Decision) {
    // n <= B, so T·(n-1) <= tau <= 2^62: no overflow. Saturation guards only states
    // that never came from this function (a corrupt snapshot, a fuzzer).
    let extra = p.t * (n - 1);
    let earliest = tat.saturating_add(extra).saturating_sub(p.tau);
    // Tokens now = (now + tau + T - TAT) / T; divided lazily by `Decision::remaining`.
    let full = now.saturating_add(p.tau).saturating_add(p.t);
    let mut d = Decision {
        allowed: false,
        limit: p.burst as u32,
        remaining_num: full.saturating_sub(tat),
        remaining_unit: p.t,
        reset_after: tat.saturating_sub(now),
        retry_after: earliest.saturating_sub(now),
        delay: 0,
        window: p.window,
        quota_index: 0,
    };
    if now < earliest {
        return (None, d);
    }
    let start = if tat > now { tat } else { now };
    let next = start.saturating_add(n * p.t);
    d.allowed = true;
    d.remaining_num = full.saturating_sub(next);
    d.reset_after = next - now;
    d.retry_after = 0;
    if p.algorithm == Algorithm::LeakyBucket {
        d.delay = start - now;
    }
    (Some(next), d)
}

/// A lease of up to `k` units at `now` (cost 1 each): `Some((TAT', first, granted))`
/// iff at least one unit fits, where the granted units are the next `granted`
/// slots of the schedule, `first`, `first + T`, ... (the GCRA admission of
/// `granted` at once, so every one of them is conformant now).
#[inline]
pub(crate) fn lease(p: &Params, tat: Nanos, now: Nanos, k: u64) -> Option<(Nanos, Nanos, u64)> {
    let start = if tat > now { tat } else { now };
    // Units that fit now: n with now >= start + T·(n-1) - tau, at most B.
    let room = now.saturating_add(p.tau).checked_sub(start)?;
    let granted = (room / p.t + 1).min(k).min(p.burst);
    Some((start.saturating_add(granted * p.t), start, granted))
}
