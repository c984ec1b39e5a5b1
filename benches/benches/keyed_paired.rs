//! The keyed benches' ratios, measured so that a noisy machine moves them less.
//!
//! `benches/keyed.rs` (criterion) times each function for seconds before the next
//! one starts, so a slow spell of a shared VM lands on one side of a ratio only:
//! on the 2-core VM this crate is developed on, governor's own 1M-key median has
//! moved by 2x between runs. Here the sides take turns instead. Every round
//! times one run of checks on each side (ratecell, governor and the two
//! yardsticks), in an order shuffled afresh each round (so that no side always
//! follows the same other, which warmed the shared keys for it), and divides
//! within the round; the table gives the median of those per-round ratios and
//! their quartiles. One untimed round goes first. Keys, orders, quotas, yardsticks and the two-thread driver are the
//! ones `benches/keyed.rs` uses (both include `benches/common/keyed.rs`), so the
//! two benches time the same work.
//!
//! ```text
//! cargo bench --bench keyed_paired                  # 24 rounds
//! PAIRED_ROUNDS=48 cargo bench --bench keyed_paired
//! KEYED_QUOTA=long cargo bench --bench keyed_paired # see common::Quotas::long_lived
//! ```

#[path = "common/keyed.rs"]
mod common;

use common::{keys, million, next, on_two_threads, shuffle, Quotas, Sides, ONE_M};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The sides, in table order.
const SIDES: [&str; 4] = ["ratecell", "governor", "floor", "floor_128"];

/// One case: how to time `checks` checks (per thread) on side `s`.
struct Case<'a> {
    name: &'a str,
    /// Checks per turn and thread: about 50-200 ms of work, long enough that the
    /// clock's resolution does not matter, short enough for many rounds.
    checks: u64,
    turn: Box<dyn FnMut(usize, u64) -> Duration + 'a>,
}

fn main() {
    // `cargo bench` passes `--bench`; this harness takes no arguments.
    let rounds: usize = std::env::var("PAIRED_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(24);
    let q = Quotas::from_env();
    println!(
        "{} rounds; per side: median time per check, then its ratio to governor's \
         in the same round (median [quartiles])",
        rounds
    );
    let one = keys(1, 1);
    let thousand = keys(1_000, 2);
    let orders = million();
    // One case at a time, so that only one case's 1M-key stores are alive.
    for i in 0..4 {
        let case = match i {
            0 => one_thread(&q, "1 key", &one, 2_000_000),
            1 => one_thread(&q, "1k keys", &thousand, 2_000_000),
            2 => one_thread(&q, "1M keys", &orders[0], 500_000),
            _ => two_threads(&q, "1M keys, 2 threads", orders, 250_000),
        };
        report(&q.group(case.name), rounds, case);
    }
}

/// Times `rounds` rounds of `case` and prints its line of the table.
fn report(name: &str, rounds: usize, mut case: Case<'_>) {
    let mut ns: [Vec<f64>; 4] = Default::default();
    for round in 0..=rounds {
        let mut order: [usize; 4] = core::array::from_fn(|side| side);
        shuffle(&mut order, 0x5EED ^ round as u64);
        for side in order {
            let t = (case.turn)(side, case.checks);
            // Round 0 warms up, untimed.
            if round > 0 {
                ns[side].push(t.as_nanos() as f64 / case.checks as f64);
            }
        }
    }
    let gov = &ns[1];
    print!("{name:<22}");
    for (side, times) in SIDES.iter().zip(&ns) {
        let ratios: Vec<f64> = times.iter().zip(gov).map(|(t, g)| t / g).collect();
        let [q1, med, q3] = quartiles(ratios);
        let t = quartiles(times.clone())[1];
        if *side == "governor" {
            print!("  governor {t:.1} ns");
        } else {
            print!("  {side} {t:.1} ns {med:.2} [{q1:.2}-{q3:.2}]");
        }
    }
    println!();
}

fn quartiles(mut v: Vec<f64>) -> [f64; 3] {
    v.sort_by(f64::total_cmp);
    let at = |f: f64| v[((v.len() - 1) as f64 * f).round() as usize];
    [at(0.25), at(0.5), at(0.75)]
}

/// Builds every side for `keys`, checks each key once on each (as
/// `benches/keyed.rs` does), and walks `keys` cyclically on this thread, each side
/// from its own saved position.
fn one_thread<'a>(q: &Quotas, name: &'a str, keys: &'a [String], checks: u64) -> Case<'a> {
    let sides = Sides::new(q, keys.len(), keys);
    let mut pos = [0usize; 4];
    let turn = move |side: usize, n: u64| {
        let p = &mut pos[side];
        let t0 = Instant::now();
        match side {
            0 => (0..n).for_each(|_| {
                black_box(sides.rc.check(next(keys, p).as_str()).is_allowed());
            }),
            1 => (0..n).for_each(|_| {
                let _ = black_box(sides.gv.check_key(next(keys, p)));
            }),
            2 => (0..n).for_each(|_| {
                black_box(sides.floor.check(next(keys, p)));
            }),
            _ => (0..n).for_each(|_| {
                black_box(sides.floor_128.check(next(keys, p)));
            }),
        }
        t0.elapsed()
    };
    Case {
        name,
        checks,
        turn: Box::new(turn),
    }
}

/// As `one_thread` over the million keys, with each turn run by two threads at
/// once (`on_two_threads`, as in `benches/keyed.rs`): time per check is one check
/// on each thread, concurrently.
fn two_threads<'a>(
    q: &Quotas,
    name: &'a str,
    orders: &'a [Vec<String>; 2],
    checks: u64,
) -> Case<'a> {
    let sides = Sides::new(q, ONE_M, &orders[0]);
    let mut pos = [[0, ONE_M / 2]; 4];
    let turn = move |side: usize, n: u64| {
        let p = &mut pos[side];
        match side {
            0 => on_two_threads(n, orders, p, |k| {
                black_box(sides.rc.check(k.as_str()).is_allowed());
            }),
            1 => on_two_threads(n, orders, p, |k| {
                let _ = black_box(sides.gv.check_key(k));
            }),
            2 => on_two_threads(n, orders, p, |k| {
                black_box(sides.floor.check(k));
            }),
            _ => on_two_threads(n, orders, p, |k| {
                black_box(sides.floor_128.check(k));
            }),
        }
    };
    Case {
        name,
        checks,
        turn: Box::new(turn),
    }
}
