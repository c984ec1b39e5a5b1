//! What a saved state may mean at restore time.
//!
//! States hold absolute times on the timeline, so time spent offline elapses by
//! itself: a state that expired meanwhile is dropped (it means "no state"). A state
//! further ahead of the restoring clock than the algorithm can ever produce (a
//! clock that ran ahead before the save, a file from a machine whose clock did) is
//! clamped to the furthest state the algorithm can produce at `now`, so that no key
//! is locked out for longer than its quota allows. A state an admission made at or
//! before `now` is never changed.

use crate::algorithm::{Algorithm, Params};
use crate::clock::Nanos;

/// A saved state, judged at `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Restored {
    /// Means the same as no state: drop it.
    Expired,
    /// Install this state; `clamped` if it differs from the saved one.
    Live { state: u64, clamped: bool },
}

/// The furthest state the algorithm can reach by admissions at times up to `now`,
/// applied to `state` (for the window algorithms: the window index).
pub(crate) fn clamp(p: &Params, state: u64, now: Nanos) -> u64 {
    match p.algorithm {
        // An admission at `t` leaves TAT' <= t + tau + T (the admission test bounds
        // TAT by t + tau - T·(n-1), and n·T is added).
        Algorithm::TokenBucket | Algorithm::LeakyBucket => {
            state.min(now.saturating_add(p.tau).saturating_add(p.t))
        }
        // State k·R + count: the window index k is at most now's window. The count
        // (< R by construction) stays.
        Algorithm::FixedWindow => {
            let now_k = now / p.period;
            if state / p.radix > now_k {
                now_k * p.radix + state % p.radix
            } else {
                state
            }
        }
        // State (k·R + prev)·R + cur: likewise for k; prev and cur stay.
        Algorithm::SlidingWindowCounter => {
            let r = p.radix;
            let now_k = now / p.period;
            if state / r / r > now_k {
                // now_k·R² + (state mod R²) < (k)·R² <= state: no overflow.
                now_k * r * r + state % (r * r)
            } else {
                state
            }
        }
        // A log's times are clamped one by one (`judge_log`), not as a state word.
        Algorithm::SlidingWindowLog => state,
    }
}

pub(crate) fn judge(p: &Params, state: u64, now: Nanos) -> Restored {
    if state == 0 || p.word_expires_at(state) <= now {
        return Restored::Expired;
    }
    let c = clamp(p, state, now);
    if c == 0 {
        // A window state moved to window 0 with a count of 0: nothing left.
        return Restored::Expired;
    }
    // A clamped state is still live: clamping moves it back only as far as a state
    // some admission at `now` could have produced, which expires after `now`.
    Restored::Live {
        state: c,
        clamped: c != state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::Quota;
    use core::time::Duration;

    fn params(a: Algorithm, limit: u32, period_ns: u64) -> Params {
        Params::new(
            a,
            &Quota::new(limit, Duration::from_nanos(period_ns)).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn gcra_states_are_clamped_to_now_plus_burst_intervals() {
        // 4 per 400 ns: T = 100, tau = 300.
        let p = params(Algorithm::TokenBucket, 4, 400);
        assert_eq!(judge(&p, 1_000, 1_000), Restored::Expired);
        assert_eq!(
            judge(&p, 1_001, 1_000),
            Restored::Live {
                state: 1_001,
                clamped: false
            }
        );
        assert_eq!(
            judge(&p, 1_400, 1_000),
            Restored::Live {
                state: 1_400,
                clamped: false
            }
        );
        assert_eq!(
            judge(&p, 1_401, 1_000),
            Restored::Live {
                state: 1_400,
                clamped: true
            }
        );
        assert_eq!(
            judge(&p, u64::MAX, 1_000),
            Restored::Live {
                state: 1_400,
                clamped: true
            }
        );
        // Four admissions at 1000 reach exactly the bound.
        let mut tat = 0;
        for _ in 0..4 {
            tat = crate::algorithm::gcra::admit(&p, tat, 1_000, 1).unwrap();
        }
        assert_eq!(tat, 1_400);
    }

    #[test]
    fn window_states_are_clamped_to_now_s_window() {
        // 3 per 100 ns: R = 4.
        let p = params(Algorithm::FixedWindow, 3, 100);
        let s = |k: u64, c: u64| k * 4 + c;
        assert_eq!(judge(&p, s(9, 2), 1_000), Restored::Expired);
        assert_eq!(
            judge(&p, s(10, 2), 1_000),
            Restored::Live {
                state: s(10, 2),
                clamped: false
            }
        );
        assert_eq!(
            judge(&p, s(12, 3), 1_050),
            Restored::Live {
                state: s(10, 3),
                clamped: true
            }
        );
        let p = params(Algorithm::SlidingWindowCounter, 3, 100);
        let s = |k: u64, prev: u64, cur: u64| (k * 4 + prev) * 4 + cur;
        assert_eq!(judge(&p, s(8, 1, 1), 1_000), Restored::Expired);
        assert_eq!(
            judge(&p, s(9, 1, 1), 1_000),
            Restored::Live {
                state: s(9, 1, 1),
                clamped: false
            }
        );
        assert_eq!(
            judge(&p, s(10, 3, 2), 1_000),
            Restored::Live {
                state: s(10, 3, 2),
                clamped: false
            }
        );
        assert_eq!(
            judge(&p, s(500, 3, 2), 1_099),
            Restored::Live {
                state: s(10, 3, 2),
                clamped: true
            }
        );
        assert_eq!(
            judge(&p, u64::MAX, 0),
            Restored::Live {
                state: u64::MAX % 16,
                clamped: true
            }
        );
    }
}
