//! ratecell's `DirectLimiter` beside governor's direct `RateLimiter`, on the same
//! work and in the same criterion group, so that one run gives a ratio.
//!
//! Every pair uses the same quota and the same kind of clock; both run GCRA over
//! one atomic word, so the numbers compare the cost of a check, not two policies.
//! Each group measures ratecell twice: `ratecell` branches on the verdict, which is
//! the work governor's `check` does (its `Result` is what is black-boxed: `Ok(())`,
//! or the `NotUntil` on a denial); `ratecell_decision` black-boxes the whole
//! `Decision` (the numbers for the headers), which costs a 56-byte copy the verdict
//! path does not make. Read the ratio from `ratecell` / `governor`; the
//! `_decision` line shows what materializing every field adds.
//!
//! The groups on a real clock also time a `floor`: the least work any limiter must
//! do there: read the clock and record the check with one atomic add to the state
//! word (an add cannot fail, so unlike a compare-exchange it never retries, and it
//! decides nothing). It is a yardstick, not a limiter:
//! `floor` / `governor` is the best ratio any design could reach on this machine.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use governor::clock::FakeRelativeClock;
use governor::{Quota as GQuota, RateLimiter};
use ratecell::{Clock, DefaultClock, DirectLimiter, ManualClock, Quota};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

/// One request per nanosecond, burst 10^9: a check costs more than a nanosecond,
/// so on a real clock every check in steady state is allowed.
fn allow_quotas() -> (Quota, GQuota) {
    let rc = Quota::new(1_000_000_000, Duration::from_secs(1)).unwrap();
    let gv = GQuota::per_second(NonZeroU32::new(1_000_000_000).unwrap());
    (rc, gv)
}

/// One request per hour, burst 1: after one check, every check for an hour is denied.
fn deny_quotas() -> (Quota, GQuota) {
    let rc = Quota::per_hour(1).unwrap();
    let gv = GQuota::per_hour(NonZeroU32::new(1).unwrap());
    (rc, gv)
}

/// Burst for the frozen-clock allow bench. With T = 1 ns, `burst * T` is at most
/// 2^32 ns, far under ratecell's 2^62 ns bound, so the largest `u32` is accepted by
/// both crates. On a frozen clock each limiter admits exactly `BURST` checks.
const BURST: u32 = u32::MAX;

fn frozen_allow_quotas() -> (Quota, GQuota) {
    let rc = Quota::new(1, Duration::from_nanos(1))
        .and_then(|q| q.with_burst(BURST))
        .unwrap();
    let gv = GQuota::with_period(Duration::from_nanos(1))
        .unwrap()
        .allow_burst(NonZeroU32::new(BURST).unwrap());
    (rc, gv)
}

fn allow_default_clock(c: &mut Criterion) {
    let (rq, gq) = allow_quotas();
    let mut g = c.benchmark_group("allow_default_clock");
    g.bench_function("ratecell_decision", |b| {
        let lim = DirectLimiter::builder(rq).build().unwrap();
        assert!(lim.check().is_allowed());
        b.iter(|| lim.check());
    });
    g.bench_function("ratecell", |b| {
        let lim = DirectLimiter::builder(rq).build().unwrap();
        assert!(lim.check().is_allowed());
        b.iter(|| lim.check().is_allowed());
    });
    g.bench_function("ratecell_sharded", |b| {
        let lim = DirectLimiter::builder(rq).sharded().build().unwrap();
        b.iter(|| black_box(lim.check().is_allowed()));
    });
    g.bench_function("governor", |b| {
        let lim = RateLimiter::direct(gq);
        assert!(lim.check().is_ok());
        b.iter(|| lim.check());
    });
    g.bench_function("floor", |b| {
        let clock = DefaultClock::new();
        let word = AtomicU64::new(0);
        // Relaxed: a yardstick; nothing is published.
        b.iter(|| word.fetch_add(clock.now() & 1, Ordering::Relaxed));
    });
    g.finish();
}

fn deny_default_clock(c: &mut Criterion) {
    let (rq, gq) = deny_quotas();
    let mut g = c.benchmark_group("deny_default_clock");
    g.bench_function("ratecell_decision", |b| {
        let lim = DirectLimiter::builder(rq).build().unwrap();
        // Spend the single token so that every measured check is a denial.
        assert!(lim.check().is_allowed());
        assert!(!lim.check().is_allowed());
        b.iter(|| lim.check());
    });
    g.bench_function("ratecell", |b| {
        let lim = DirectLimiter::builder(rq).build().unwrap();
        assert!(lim.check().is_allowed());
        assert!(!lim.check().is_allowed());
        b.iter(|| lim.check().is_allowed());
    });
    g.bench_function("governor", |b| {
        let lim = RateLimiter::direct(gq);
        assert!(lim.check().is_ok());
        assert!(lim.check().is_err());
        b.iter(|| lim.check());
    });
    g.finish();
}

/// Frozen clocks take the clock read out of the picture: what is left is the
/// algorithm, the decision and the compare-exchange.
///
/// A frozen limiter admits exactly `BURST` checks and then denies forever, and
/// criterion's iteration counts are not ours to choose. So each sample gets a fresh
/// limiter (built outside the timed region) and the run refuses any sample of
/// `BURST` checks or more; one further check after the timed loop must still be
/// allowed, and because a frozen clock never refills, that proves every measured
/// check was allowed too. (At a few ns per check a sample would need over 10 s to
/// come near 2^32 checks; the asserts make that a loud failure rather than a
/// silent switch to the deny path.)
fn manual_clock_allow(c: &mut Criterion) {
    let (rq, gq) = frozen_allow_quotas();
    let mut g = c.benchmark_group("manual_clock_allow");
    g.bench_function("ratecell_decision", |b| {
        b.iter_custom(|iters| {
            assert!(iters < u64::from(BURST), "sample would exhaust the burst");
            let lim = DirectLimiter::builder(rq)
                .clock(ManualClock::new())
                .build()
                .unwrap();
            let start = Instant::now();
            for _ in 0..iters {
                let _ = black_box(lim.check());
            }
            let elapsed = start.elapsed();
            assert!(lim.check().is_allowed());
            elapsed
        });
    });
    g.bench_function("governor", |b| {
        b.iter_custom(|iters| {
            assert!(iters < u64::from(BURST), "sample would exhaust the burst");
            let lim = RateLimiter::direct_with_clock(gq, FakeRelativeClock::default());
            let start = Instant::now();
            for _ in 0..iters {
                let _ = black_box(lim.check());
            }
            let elapsed = start.elapsed();
            assert!(lim.check().is_ok());
            elapsed
        });
    });
    g.bench_function("ratecell", |b| {
        b.iter_custom(|iters| {
            assert!(iters < u64::from(BURST), "sample would exhaust the burst");
            let lim = DirectLimiter::builder(rq)
                .clock(ManualClock::new())
                .build()
                .unwrap();
            let start = Instant::now();
            for _ in 0..iters {
                black_box(lim.check().is_allowed());
            }
            let elapsed = start.elapsed();
            assert!(lim.check().is_allowed());
            elapsed
        });
    });
    g.finish();
}

fn deny_manual_clock(c: &mut Criterion) {
    let (rq, gq) = deny_quotas();
    let mut g = c.benchmark_group("deny_manual_clock");
    g.bench_function("ratecell", |b| {
        let lim = DirectLimiter::builder(rq)
            .clock(ManualClock::new())
            .build()
            .unwrap();
        assert!(lim.check().is_allowed());
        assert!(!lim.check().is_allowed());
        b.iter(|| lim.check().is_allowed());
    });
    g.bench_function("ratecell_decision", |b| {
        let lim = DirectLimiter::builder(rq)
            .clock(ManualClock::new())
            .build()
            .unwrap();
        assert!(lim.check().is_allowed());
        assert!(!lim.check().is_allowed());
        b.iter(|| lim.check());
    });
    g.bench_function("governor", |b| {
        let lim = RateLimiter::direct_with_clock(gq, FakeRelativeClock::default());
        assert!(lim.check().is_ok());
        assert!(lim.check().is_err());
        b.iter(|| lim.check());
    });
    g.finish();
}

/// Runs `check` `iters` times on this thread and on one more, released together by
/// a barrier; returns the wall time until both are done. Time per iteration is then
/// one check on each thread, concurrently, against the same word.
fn on_two_threads<F: Fn() + Sync>(iters: u64, check: F) -> Duration {
    let start = Barrier::new(2);
    let done = Barrier::new(2);
    thread::scope(|s| {
        s.spawn(|| {
            start.wait();
            for _ in 0..iters {
                check();
            }
            done.wait();
        });
        start.wait();
        let t0 = Instant::now();
        for _ in 0..iters {
            check();
        }
        done.wait();
        t0.elapsed()
    })
}

fn two_threads(c: &mut Criterion) {
    let (rq, gq) = allow_quotas();
    let mut g = c.benchmark_group("two_threads");
    g.bench_function("ratecell", |b| {
        let lim = DirectLimiter::builder(rq).build().unwrap();
        b.iter_custom(|iters| {
            on_two_threads(iters, || {
                black_box(lim.check().is_allowed());
            })
        });
    });
    g.bench_function("ratecell_decision", |b| {
        let lim = DirectLimiter::builder(rq).build().unwrap();
        b.iter_custom(|iters| {
            on_two_threads(iters, || {
                let _ = black_box(lim.check());
            })
        });
    });
    g.bench_function("ratecell_sharded", |b| {
        let lim = DirectLimiter::builder(rq).sharded().build().unwrap();
        b.iter_custom(|iters| {
            on_two_threads(iters, || {
                black_box(lim.check().is_allowed());
            })
        });
    });
    g.bench_function("governor", |b| {
        let lim = RateLimiter::direct(gq);
        b.iter_custom(|iters| {
            on_two_threads(iters, || {
                let _ = black_box(lim.check());
            })
        });
    });
    g.bench_function("floor", |b| {
        let clock = DefaultClock::new();
        let word = AtomicU64::new(0);
        b.iter_custom(|iters| {
            on_two_threads(iters, || {
                // Relaxed: a yardstick; nothing is published.
                black_box(word.fetch_add(clock.now() & 1, Ordering::Relaxed));
            })
        });
    });
    g.finish();
}

/// `threads` threads (more than the cores: oversubscribed) each running `check`
/// `iters` times; the wall time until all are done.
fn on_threads<F: Fn() + Sync>(threads: usize, iters: u64, check: F) -> Duration {
    let start = Barrier::new(threads + 1);
    thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    for _ in 0..iters {
                        check();
                    }
                })
            })
            .collect();
        start.wait();
        let t0 = Instant::now();
        for w in workers {
            w.join().unwrap();
        }
        t0.elapsed()
    })
}

/// Eight threads on one limiter (on a 2-core machine, oversubscribed): time per
/// round of one check on every thread.
fn eight_threads(c: &mut Criterion) {
    let (rq, gq) = allow_quotas();
    let mut g = c.benchmark_group("eight_threads");
    g.bench_function("ratecell", |b| {
        let lim = DirectLimiter::builder(rq).build().unwrap();
        b.iter_custom(|iters| {
            on_threads(8, iters, || {
                black_box(lim.check().is_allowed());
            })
        });
    });
    g.bench_function("ratecell_sharded", |b| {
        let lim = DirectLimiter::builder(rq).sharded().build().unwrap();
        b.iter_custom(|iters| {
            on_threads(8, iters, || {
                black_box(lim.check().is_allowed());
            })
        });
    });
    g.bench_function("governor", |b| {
        let lim = RateLimiter::direct(gq);
        b.iter_custom(|iters| {
            on_threads(8, iters, || {
                let _ = black_box(lim.check());
            })
        });
    });
    g.finish();
}

criterion_group! {
    name = benches;
    // 17 functions at ~0.5 s warm-up + 3 s measurement: the run takes about a minute.
    config = Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = allow_default_clock, deny_default_clock, manual_clock_allow,
        deny_manual_clock, two_threads, eight_threads
}
criterion_main!(benches);
