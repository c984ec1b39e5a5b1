//! Sliding-window counter: the fixed window's counts, with the previous window's
//! count weighted by how much of it still lies in the trailing period.
//!
//! With `e = now - k·P` the time into window `k`, a cost `n` is allowed iff
//! `prev·(P - e) + (cur + n)·P <= L·P`, in exact integer arithmetic (u128).
//! State: `(k·(L+1) + prev)·(L+1) + cur`. A reading before the stored window starts
//! is treated as that window's start (`e = 0`, the previous window fully weighted),
//! so a clock set back never refills.

use super::Params;
use crate::clock::Nanos;
use crate::decision::Decision;

#[inline]
pub(crate) fn decide(p: &Params, state: u64, now: Nanos, n: u64) -> (Option<u64>, Decision) {
    let r = p.radix;
    let (big_p, l) = (u128::from(p.period), u128::from(p.limit));
    let stored_cur = state % r;
    let stored_prev = (state / r) % r;
    let stored_k = state / r / r;
    let now_k = now / p.period;
    let (k, prev, cur, e) = if now_k == stored_k {
        (now_k, stored_prev, stored_cur, now - now_k * p.period)
    } else if now_k == stored_k.saturating_add(1) {
        (now_k, stored_cur, 0, now - now_k * p.period)
    } else if now_k > stored_k {
        (now_k, 0, 0, now - now_k * p.period)
    } else {
        (stored_k, stored_prev, stored_cur, 0)
    };
    let window_start = k.saturating_mul(p.period);
    let prev_weight = u128::from(prev) * u128::from(p.period - e);
    let cap = l * big_p;
    let fits = |cur: u64, n: u64| prev_weight + u128::from(cur + n) * big_p <= cap;
    // Saturating: counts above `L` (left by lowering the quota) weigh more than `cap`.
    let remaining =
        |cur: u64| ((cap.saturating_sub(prev_weight) / big_p) as u64).saturating_sub(cur);
    let reset_after = |cur: u64| {
        let end = if cur > 0 {
            k.saturating_add(2)
        } else if prev > 0 {
            k.saturating_add(1)
        } else {
            return 0;
        };
        end.saturating_mul(p.period).saturating_sub(now)
    };
    if fits(cur, n) {
        let next = k
            .saturating_mul(r)
            .saturating_add(prev)
            .saturating_mul(r)
            .saturating_add(cur + n);
        let mut d = p.blank_decision(true);
        d.remaining_num = remaining(cur + n);
        d.reset_after = reset_after(cur + n);
        return (Some(next), d);
    }
    // The earliest moment the same request fits, if nothing else is admitted.
    let at = if cur + n <= p.limit {
        // Later in this window, once prev's weight has shrunk enough (prev > 0 here).
        let room = u128::from(p.limit - cur - n) * big_p / u128::from(prev);
        window_start.saturating_add(p.period - room.min(big_p) as u64)
    } else {
        // In the next window, where prev' = cur (> 0 here) and cur' = 0.
        let room = u128::from(p.limit - n) * big_p / u128::from(cur);
        k.saturating_add(1)
            .saturating_mul(p.period)
            .saturating_add(p.period - room.min(big_p) as u64)
    };
    let mut d = p.blank_decision(false);
    d.remaining_num = remaining(cur);
    d.reset_after = reset_after(cur);
    d.retry_after = at.saturating_sub(now);
    (None, d)
}

pub(crate) fn expires_at(p: &Params, state: u64) -> Nanos {
    (state / p.radix / p.radix)
        .saturating_add(2)
        .saturating_mul(p.period)
}
