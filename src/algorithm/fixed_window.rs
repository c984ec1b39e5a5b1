//! Fixed window: `L` per window `[k·P, (k+1)·P)` of the timeline.
//!
//! State: `k·(L+1) + count`, the window number and what it has admitted (0 is
//! window 0 with nothing admitted, the same as no state). A reading in an earlier
//! window than the stored one (a clock set back) counts against the stored window.
//! A count above `L` (left by lowering the quota) denies until the window ends.

use super::Params;
use crate::clock::Nanos;
use crate::decision::Decision;

#[inline]
pub(crate) fn decide(p: &Params, state: u64, now: Nanos, n: u64) -> (Option<u64>, Decision) {
    let (stored_k, stored_count) = (state / p.radix, state % p.radix);
    let now_k = now / p.period;
    let (k, count) = if now_k > stored_k {
        (now_k, 0)
    } else {
        (stored_k, stored_count)
    };
    let window_end = k.saturating_add(1).saturating_mul(p.period);
    let mut d = Decision {
        allowed: false,
        limit: p.limit as u32,
        remaining_num: p.limit.saturating_sub(count),
        remaining_unit: 1,
        reset_after: window_end.saturating_sub(now),
        // The next window admits any cost up to L.
        retry_after: window_end.saturating_sub(now),
        delay: 0,
        window: p.period,
        quota_index: 0,
    };
    if count + n > p.limit {
        return (None, d);
    }
    d.allowed = true;
    d.remaining_num = p.limit - count - n;
    d.retry_after = 0;
    let next = k.saturating_mul(p.radix).saturating_add(count + n);
    (Some(next), d)
}

pub(crate) fn expires_at(p: &Params, state: u64) -> Nanos {
    (state / p.radix).saturating_add(1).saturating_mul(p.period)
}
