//! The sharded direct limiter beside the plain one, governor's and two
//! yardsticks, paired as in `keyed_paired`: every round times one run of each
//! side, in an order rotated every round, and divides within the round; the table
//! gives the median time per check (per round of checks on several threads) and
//! the median of the per-round ratios to governor, with quartiles.
//!
//! ```text
//! cargo bench --bench sharded_paired                 # 24 rounds
//! PAIRED_ROUNDS=48 cargo bench --bench sharded_paired
//! ```
//!
//! Quota 10^9/s with a burst of 10^9 on the default clock: every check is allowed.
//! The two-thread case pins its threads to cores 0 and 1 (Linux), so that they
//! run at once rather than take turns on one core. Yardsticks: `floor` reads the
//! clock and adds to one shared word (the least a check of one shared limit can
//! do); `floor_local` reads the clock and adds to a word of the thread's own
//! (the least a sharded check can do). A last case checks one hot key of a keyed
//! limiter on the two pinned threads, beside governor's keyed limiter.

use governor::{Quota as GQuota, RateLimiter};
use ratecell::{Clock, DefaultClock, DirectLimiter, Limiter, Quota};
use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

const SIDES: [&str; 5] = ["plain", "sharded", "governor", "floor", "floor_local"];

fn main() {
    let rounds: usize = std::env::var("PAIRED_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(24);
    let rq = Quota::new(1_000_000_000, Duration::from_secs(1)).unwrap();
    let gq = GQuota::per_second(NonZeroU32::new(1_000_000_000).unwrap());
    println!(
        "{rounds} rounds; per side: median ns per check (per round of one check on \
         every thread), then its ratio to governor's in the same round \
         (median [quartiles])"
    );
    for (name, threads, pin, checks) in [
        ("1 thread", 1, false, 2_000_000u64),
        ("2 threads, pinned", 2, true, 1_000_000),
        ("8 threads", 8, false, 250_000),
    ] {
        let plain = DirectLimiter::builder(rq).build().unwrap();
        let sharded = DirectLimiter::builder(rq).sharded().build().unwrap();
        let gov = RateLimiter::direct(gq);
        let clock = DefaultClock::new();
        let shared = AtomicU64::new(0);
        let own: Vec<_> = (0..threads).map(|_| Padded(AtomicU64::new(0))).collect();
        let (plain, sharded, gov, clock, shared, own) =
            (&plain, &sharded, &gov, &clock, &shared, &own);
        let turn = move |side: usize, t: usize| -> Box<dyn Fn() + Sync + '_> {
            match side {
                0 => Box::new(move || {
                    black_box(plain.check().is_allowed());
                }),
                1 => Box::new(move || {
                    black_box(sharded.check().is_allowed());
                }),
                2 => Box::new(move || {
                    let _ = black_box(gov.check());
                }),
                // Relaxed: yardsticks; nothing is published.
                3 => Box::new(move || {
                    black_box(shared.fetch_add(clock.now() & 1, Ordering::Relaxed));
                }),
                _ => {
                    let word = &own[t].0;
                    Box::new(move || {
                        black_box(word.fetch_add(clock.now() & 1, Ordering::Relaxed));
                    })
                }
            }
        };
        let sides = if threads == 8 { 3 } else { SIDES.len() };
        let mut ns: Vec<Vec<f64>> = vec![Vec::new(); sides];
        for round in 0..=rounds {
            for j in 0..sides {
                let side = (round + j) % sides;
                let d = on_threads(threads, pin, checks, |t| turn(side, t));
                // Round 0 warms up, untimed.
                if round > 0 {
                    ns[side].push(d.as_nanos() as f64 / checks as f64);
                }
            }
        }
        print!("{name:<18}");
        for (side, times) in ns.iter().enumerate() {
            let ratios: Vec<f64> = times.iter().zip(&ns[2]).map(|(t, g)| t / g).collect();
            let [_, t, _] = quartiles(times.clone());
            let [q1, med, q3] = quartiles(ratios);
            if side == 2 {
                print!("  governor {t:.1} ns");
            } else {
                print!("  {} {t:.1} ns {med:.2} [{q1:.2}-{q3:.2}]", SIDES[side]);
            }
        }
        println!();
        // The sharded/plain ratio, paired the same way.
        let ratios: Vec<f64> = ns[1].iter().zip(&ns[0]).map(|(s, p)| s / p).collect();
        let [q1, med, q3] = quartiles(ratios);
        println!("{:<18}  sharded / plain {med:.2} [{q1:.2}-{q3:.2}]", "");
    }
    hot_key(rounds, rq, gq);
}

/// One hot key of a keyed limiter on two pinned threads: ratecell's keyed check
/// beside governor's keyed (dashmap) check of the same key, and the two floors.
fn hot_key(rounds: usize, rq: Quota, gq: GQuota) {
    const CHECKS: u64 = 1_000_000;
    let rc = Limiter::builder(rq).capacity(1_024).build().unwrap();
    let gov = RateLimiter::keyed(gq);
    let clock = DefaultClock::new();
    let shared = AtomicU64::new(0);
    let own = [Padded(AtomicU64::new(0)), Padded(AtomicU64::new(0))];
    let (rc, gov, clock, shared, own) = (&rc, &gov, &clock, &shared, &own);
    let turn = move |side: usize, t: usize| -> Box<dyn Fn() + Sync + '_> {
        match side {
            0 => Box::new(move || {
                black_box(rc.check(&7u64).is_allowed());
            }),
            1 => Box::new(move || {
                let _ = black_box(gov.check_key(&7u64));
            }),
            // Relaxed: yardsticks; nothing is published.
            2 => Box::new(move || {
                black_box(shared.fetch_add(clock.now() & 1, Ordering::Relaxed));
            }),
            _ => {
                let word = &own[t].0;
                Box::new(move || {
                    black_box(word.fetch_add(clock.now() & 1, Ordering::Relaxed));
                })
            }
        }
    };
    let names = ["keyed", "governor", "floor", "floor_local"];
    let mut ns: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for round in 0..=rounds {
        for j in 0..names.len() {
            let side = (round + j) % names.len();
            let d = on_threads(2, true, CHECKS, |t| turn(side, t));
            if round > 0 {
                ns[side].push(d.as_nanos() as f64 / CHECKS as f64);
            }
        }
    }
    print!("{:<18}", "1 key, 2 pinned");
    for (side, times) in ns.iter().enumerate() {
        let ratios: Vec<f64> = times.iter().zip(&ns[1]).map(|(t, g)| t / g).collect();
        let [_, t, _] = quartiles(times.clone());
        let [q1, med, q3] = quartiles(ratios);
        if side == 1 {
            print!("  governor {t:.1} ns");
        } else {
            print!("  {} {t:.1} ns {med:.2} [{q1:.2}-{q3:.2}]", names[side]);
        }
    }
    println!();
}

#[repr(align(128))]
struct Padded(AtomicU64);

fn quartiles(mut v: Vec<f64>) -> [f64; 3] {
    v.sort_by(f64::total_cmp);
    let at = |f: f64| v[((v.len() - 1) as f64 * f).round() as usize];
    [at(0.25), at(0.5), at(0.75)]
}

/// Runs `checks` checks on each of `threads` threads (thread `t` runs `work(t)`),
/// released together; the wall time until all are done. With one thread, runs on
/// the calling thread.
fn on_threads<'a, F>(threads: usize, pin: bool, checks: u64, work: F) -> Duration
where
    F: Fn(usize) -> Box<dyn Fn() + Sync + 'a> + Sync,
{
    if threads == 1 {
        let check = work(0);
        let t0 = Instant::now();
        for _ in 0..checks {
            check();
        }
        return t0.elapsed();
    }
    let start = Barrier::new(threads + 1);
    let done = Barrier::new(threads + 1);
    thread::scope(|s| {
        for t in 0..threads {
            let (start, done, work) = (&start, &done, &work);
            s.spawn(move || {
                if pin {
                    pin_to(t);
                }
                let check = work(t);
                start.wait();
                for _ in 0..checks {
                    check();
                }
                done.wait();
            });
        }
        start.wait();
        let t0 = Instant::now();
        done.wait();
        t0.elapsed()
    })
}

/// Pins the calling thread to core `core` (Linux only; elsewhere a no-op).
#[cfg(target_os = "linux")]
fn pin_to(core: usize) {
    // SAFETY: `set` is a plain bit set owned by this frame, and the call reads
    // exactly `size_of::<cpu_set_t>()` bytes of it.
    let ok = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    assert_eq!(ok, 0, "could not pin to core {core}");
}

#[cfg(not(target_os = "linux"))]
fn pin_to(_core: usize) {}
