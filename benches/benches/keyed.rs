//! ratecell's keyed `Limiter` beside governor's keyed `RateLimiter` (DashMap store,
//! default hasher, default clock), on the same keys, in the same order, with the
//! same quota, in the same criterion group, so that one run gives a ratio.
//!
//! As in `benches/direct.rs`, `ratecell` branches on the verdict, the work
//! governor's `check_key` does (its `Result` is what is black-boxed), and
//! `ratecell_decision` black-boxes the whole `Decision` (the numbers for the
//! headers). Read the ratio from `ratecell` / `governor`.
//!
//! Keys are `String`s made and shuffled before any timing; both sides get a
//! reference to the same `String` (ratecell hashes it as `str`, governor's map is
//! keyed by `String`), so building or copying keys is never measured. Each side's
//! answer goes through `black_box`.
//!
//! Key positions live outside the timed closures and carry over from one criterion
//! sample to the next: otherwise every short sample would replay the same prefix
//! of the order, which stays in cache and flatters the large-key benches.
//!
//! Each group also times two yardsticks, not limiters. `floor` is the least work
//! any keyed limiter must do per check (see `common::Floor`): `floor` /
//! `governor` is the best ratio any design could reach on this machine.
//! `floor_128` is the same with identity and state in one 128-bit word (see
//! `common::Floor128`), the cell ratecell's table is made of: `floor_128` /
//! `governor` is the best ratio this design could reach. Together they tell a target that is out of reach here from
//! one that is merely unmet.
//!
//! `KEYED_QUOTA=long cargo bench --bench keyed` reruns every group (names suffixed
//! `_long_quota`) with a quota under which a key's state stays live for the whole
//! run; see `common::Quotas::long_lived` for why that is worth a second look.

#[path = "common/keyed.rs"]
mod common;

use common::{keys, million, next, on_two_threads, Quotas, Sides, ONE_M};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::time::Duration;

/// Builds both limiters for `keys`, checks every key once on each (so the measured
/// checks find their keys, as far as each store keeps them) and benches a cyclic
/// walk over `keys` on one thread.
fn one_thread(c: &mut Criterion, q: &Quotas, name: &str, keys: &[String]) {
    let Sides {
        rc,
        gv,
        floor,
        floor_128,
    } = Sides::new(q, keys.len(), keys);
    let mut g = c.benchmark_group(q.group(name));
    let mut pos = 0;
    g.bench_function("ratecell", |b| {
        b.iter(|| rc.check(next(keys, &mut pos).as_str()).is_allowed());
    });
    let mut pos = 0;
    g.bench_function("ratecell_decision", |b| {
        b.iter(|| rc.check(next(keys, &mut pos).as_str()));
    });
    let mut pos = 0;
    g.bench_function("governor", |b| {
        b.iter(|| gv.check_key(next(keys, &mut pos)));
    });
    let mut pos = 0;
    g.bench_function("floor", |b| {
        b.iter(|| floor.check(next(keys, &mut pos)));
    });
    let mut pos = 0;
    g.bench_function("floor_128", |b| {
        b.iter(|| floor_128.check(next(keys, &mut pos)));
    });
    g.finish();
    // Printed after the group, so that a denial (a quota that does not fit the
    // run) would show up next to the numbers it invalidates.
    eprintln!("{}: ratecell {:?}", q.group(name), rc.stats());
}

fn keyed_1_key(c: &mut Criterion) {
    let q = Quotas::from_env();
    one_thread(c, &q, "keyed_1_key", &keys(1, 1));
}

fn keyed_1k_keys(c: &mut Criterion) {
    let q = Quotas::from_env();
    one_thread(c, &q, "keyed_1k_keys", &keys(1_000, 2));
}

fn keyed_1m_keys(c: &mut Criterion) {
    let q = Quotas::from_env();
    one_thread(c, &q, "keyed_1m_keys", &million()[0]);
}

fn keyed_1m_keys_2_threads(c: &mut Criterion) {
    let q = Quotas::from_env();
    let orders = million();
    let Sides {
        rc,
        gv,
        floor,
        floor_128,
    } = Sides::new(&q, ONE_M, &orders[0]);
    let name = q.group("keyed_1m_keys_2_threads");
    let mut g = c.benchmark_group(&name);
    let mut pos = [0, ONE_M / 2];
    g.bench_function("ratecell", |b| {
        b.iter_custom(|iters| {
            on_two_threads(iters, orders, &mut pos, |k| {
                black_box(rc.check(k.as_str()).is_allowed());
            })
        });
    });
    let mut pos = [0, ONE_M / 2];
    g.bench_function("governor", |b| {
        b.iter_custom(|iters| {
            on_two_threads(iters, orders, &mut pos, |k| {
                let _ = black_box(gv.check_key(k));
            })
        });
    });
    let mut pos = [0, ONE_M / 2];
    g.bench_function("floor", |b| {
        b.iter_custom(|iters| {
            on_two_threads(iters, orders, &mut pos, |k| {
                black_box(floor.check(k));
            })
        });
    });
    let mut pos = [0, ONE_M / 2];
    g.bench_function("floor_128", |b| {
        b.iter_custom(|iters| {
            on_two_threads(iters, orders, &mut pos, |k| {
                black_box(floor_128.check(k));
            })
        });
    });
    g.finish();
    eprintln!("{name}: ratecell {:?}", rc.stats());
}

criterion_group! {
    name = benches;
    // 19 functions at 1 s warm-up + 3 s measurement, plus building and pre-warming
    // the 1M-key limiters (about a second each): the run takes about two minutes.
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = keyed_1_key, keyed_1k_keys, keyed_1m_keys, keyed_1m_keys_2_threads
}
criterion_main!(benches);
