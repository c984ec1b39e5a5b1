//! Per-key quotas and stacked quotas beside a plain keyed check, paired as in
//! `keyed_paired`: every round times one run of each side, in a rotating order,
//! and divides within the round; the table gives the median of the per-round
//! ratios to the plain check and their quartiles.
//!
//! ```text
//! cargo bench --bench policies                 # 24 rounds
//! PAIRED_ROUNDS=48 cargo bench --bench policies
//! ```
//!
//! Sides, on 1,000 keys in a fixed shuffled order, every check admitted (quotas
//! far above the rate): `plain` is `Limiter::check`; `tier` is
//! `Limiter::check_with` a tier of the same limiter; `stack_2` is
//! `StackedLimiter::check` with two quotas (two tables).

use ratecell::{Limiter, Quota, StackedLimiter};
use std::hint::black_box;
use std::time::{Duration, Instant};

const KEYS: u64 = 1_000;
const CHECKS: u64 = 400_000;

fn median(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.25), at(0.75))
}

fn main() {
    let rounds: usize = std::env::var("PAIRED_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let fast = Quota::per_second(1_000_000_000).unwrap();
    let day = Quota::new(4_000_000_000, Duration::from_secs(3_600)).unwrap();
    let lim = Limiter::builder(fast)
        .capacity(4 * KEYS as usize)
        .build()
        .unwrap();
    let tier = lim.tier(Quota::per_second(999_999_999).unwrap()).unwrap();
    let stack = StackedLimiter::builder([fast, day])
        .capacity(4 * KEYS as usize)
        .build()
        .unwrap();
    let keys: Vec<u64> = (0..KEYS)
        .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .collect();
    let time = |side: usize| {
        let start = Instant::now();
        let mut allowed = 0u64;
        for i in 0..CHECKS {
            let k = &keys[(i % KEYS) as usize];
            let ok = match side {
                0 => lim.check(k).is_allowed(),
                1 => lim.check_with(&tier, k).is_ok_and(|d| d.is_allowed()),
                _ => stack.check(k).is_allowed(),
            };
            allowed += u64::from(ok);
        }
        black_box(allowed);
        start.elapsed().as_secs_f64() * 1e9 / CHECKS as f64
    };
    for side in 0..3 {
        time(side); // untimed warm-up
    }
    let mut ns = [Vec::new(), Vec::new(), Vec::new()];
    let mut ratios = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        let mut t = [0.0; 3];
        for j in 0..3 {
            let side = (round + j) % 3;
            t[side] = time(side);
        }
        for side in 0..3 {
            ns[side].push(t[side]);
        }
        ratios[0].push(t[1] / t[0]);
        ratios[1].push(t[2] / t[0]);
    }
    println!(
        "{rounds} rounds, {KEYS} keys: median ns per check; ratio to plain (median [quartiles])"
    );
    let (plain, _, _) = median(&mut ns[0]);
    println!("plain    {plain:6.1} ns");
    for (i, name) in ["tier", "stack_2"].iter().enumerate() {
        let (m, _, _) = median(&mut ns[i + 1]);
        let (r, lo, hi) = median(&mut ratios[i]);
        println!("{name:8} {m:6.1} ns  {r:.2} [{lo:.2}-{hi:.2}]");
    }
}
