//! A one-word state written under one set of parameters, re-encoded for another of
//! the same algorithm: how a snapshot's canonical states become a live limiter's
//! (and back), and how a restore reinterprets a file saved under another quota.
//!
//! The states keep their meaning: a TAT stays a TAT (the time debt is kept and
//! refilled at the new rate); a window's counts stay, capped at what the new
//! encoding holds. When the window's period differs, the windows themselves
//! differ: a state still live at `now` carries its whole count (`prev + cur`)
//! into `now`'s new window, which may deny more than either quota alone would,
//! never less.

use super::{fixed_window, sliding_counter, Algorithm, Params};
use crate::clock::Nanos;

used_by_snapshots! {
    /// `state`, stored under `from`, as the same state under `to` at `now`.
    pub(crate) fn word(from: &Params, to: &Params, state: u64, now: Nanos) -> u64 {
        if state == 0 || (from.radix == to.radix && from.period == to.period) {
            return state;
        }
        let cap = to.radix - 1;
        match from.algorithm {
            Algorithm::FixedWindow => {
                let (k, count) = (state / from.radix, state % from.radix);
                if from.period == to.period {
                    // k < windows(P) and count <= cap < R': below windows·R' <= 2^64.
                    return k * to.radix + count.min(cap);
                }
                if fixed_window::expires_at(from, state) <= now {
                    return 0;
                }
                (now / to.period) * to.radix + count.min(cap)
            }
            Algorithm::SlidingWindowCounter => {
                let (r, r2) = (from.radix, to.radix);
                let (cur, prev, k) = (state % r, (state / r) % r, state / r / r);
                if from.period == to.period {
                    return (k * r2 + prev.min(cap)) * r2 + cur.min(cap);
                }
                if sliding_counter::expires_at(from, state) <= now {
                    return 0;
                }
                (now / to.period) * r2 * r2 + (prev + cur).min(cap)
            }
            // A TAT is a time: it keeps its meaning under any quota. (The log is no word.)
            _ => state,
        }
    }
}

#[cfg(all(test, not(loom)))]
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
    fn window_counts_survive_a_new_radix_and_come_back() {
        let file = params(Algorithm::FixedWindow, 5, 1_000);
        let live = Params::live(
            Algorithm::FixedWindow,
            &Quota::new(5, Duration::from_nanos(1_000)).unwrap(),
        )
        .unwrap();
        assert!(live.radix > file.radix);
        let s = 7 * 6 + 4; // window 7, count 4
        let l = word(&file, &live, s, 7_500);
        assert_eq!((l / live.radix, l % live.radix), (7, 4));
        assert_eq!(word(&live, &file, l, 7_500), s);
        let file = params(Algorithm::SlidingWindowCounter, 5, 1_000);
        let live = Params::live(
            Algorithm::SlidingWindowCounter,
            &Quota::new(5, Duration::from_nanos(1_000)).unwrap(),
        )
        .unwrap();
        let s = (7 * 6 + 3) * 6 + 2;
        let l = word(&file, &live, s, 7_500);
        let r = live.radix;
        assert_eq!((l / r / r, (l / r) % r, l % r), (7, 3, 2));
        assert_eq!(word(&live, &file, l, 7_500), s);
    }

    #[test]
    fn counts_above_the_new_encoding_are_capped_and_periods_carry_the_count() {
        let from = params(Algorithm::FixedWindow, 10, 1_000);
        let to = params(Algorithm::FixedWindow, 3, 1_000);
        assert_eq!(word(&from, &to, 7 * 11 + 9, 7_100), 7 * 4 + 3);
        // Another period: a live window's count moves into now's window.
        let to = params(Algorithm::FixedWindow, 10, 500);
        assert_eq!(word(&from, &to, 7 * 11 + 9, 7_600), 15 * 11 + 9);
        // An expired one is gone.
        assert_eq!(word(&from, &to, 6 * 11 + 9, 7_600), 0);
        let from = params(Algorithm::SlidingWindowCounter, 10, 1_000);
        let to = params(Algorithm::SlidingWindowCounter, 10, 2_000);
        assert_eq!(word(&from, &to, (7 * 11 + 4) * 11 + 3, 7_100), 3 * 121 + 7);
        // GCRA: the TAT stays.
        let from = params(Algorithm::TokenBucket, 10, 1_000);
        let to = params(Algorithm::TokenBucket, 1, 7_000);
        assert_eq!(word(&from, &to, 12_345, 7_000), 12_345);
    }
}
