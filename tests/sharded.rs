//! A sharded direct limiter never admits more than the plain one: every admission
//! that threads racing on leases make is replayed, in time order, through a plain
//! limiter of the same quota, which must admit every one of them.

#![cfg(not(loom))]

use ratecell::{Algorithm, BuildError, Clock, DirectLimiter, ManualClock, Nanos, Quota};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

thread_local! {
    static LAST_READ: Cell<Nanos> = const { Cell::new(0) };
}

/// A manual clock that remembers, per thread, the reading it last gave: the time
/// the check just made decided at.
#[derive(Clone)]
struct Recording(ManualClock);

impl Clock for Recording {
    fn now(&self) -> Nanos {
        let t = self.0.now();
        LAST_READ.with(|c| c.set(t));
        t
    }
}

fn conforms(q: Quota, shards: usize, threads: usize, steps: u64, step: Duration) {
    let clock = ManualClock::new();
    let lim = Arc::new(
        DirectLimiter::builder(q)
            .shards(shards)
            .clock(Recording(clock.clone()))
            .build()
            .unwrap(),
    );
    assert_eq!(lim.shards(), shards);
    let done = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(threads + 1));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (lim, done, start) = (lim.clone(), done.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let mut admitted = Vec::new();
                // Relaxed: a flag polled until the driver has finished moving time.
                while !done.load(Ordering::Relaxed) {
                    if lim.check().is_allowed() {
                        admitted.push(LAST_READ.with(Cell::get));
                    }
                }
                admitted
            })
        })
        .collect();
    start.wait();
    for _ in 0..steps {
        std::thread::sleep(Duration::from_micros(200));
        clock.advance(step);
    }
    done.store(true, Ordering::Relaxed);
    let mut all: Vec<Nanos> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    all.sort_unstable();
    let replay_clock = ManualClock::new();
    let plain = DirectLimiter::builder(q)
        .clock(replay_clock.clone())
        .build()
        .unwrap();
    for (i, &t) in all.iter().enumerate() {
        replay_clock.set_nanos(t);
        assert!(
            plain.check().is_allowed(),
            "admission {i} of {} at {t} ns is more than the plain limiter allows",
            all.len()
        );
    }
    // The bucket was drained at every step: at least the burst was admitted.
    assert!(all.len() as u64 >= u64::from(q.burst()), "{}", all.len());
}

#[test]
fn racing_leases_never_admit_more_than_the_plain_limiter() {
    let q = Quota::new(1_000, Duration::from_secs(1))
        .unwrap()
        .with_burst(64)
        .unwrap();
    conforms(q, 4, 4, 300, Duration::from_micros(300));
}

#[test]
fn threads_sharing_shards_never_admit_more_either() {
    let q = Quota::new(10_000, Duration::from_secs(1))
        .unwrap()
        .with_burst(200)
        .unwrap();
    conforms(q, 2, 6, 300, Duration::from_micros(37));
}

#[test]
fn large_leases_held_across_time_steps_never_admit_more() {
    // A deep bucket refilling many units per step: leases grow under contention,
    // and a thread that holds units while time moves on must let them expire.
    let q = Quota::new(100_000, Duration::from_secs(1))
        .unwrap()
        .with_burst(10_000)
        .unwrap();
    conforms(q, 4, 4, 300, Duration::from_micros(300));
}

#[test]
fn only_the_token_bucket_shards_and_zero_shards_is_refused() {
    let q = Quota::per_second(10).unwrap();
    for a in Algorithm::ALL {
        let built = DirectLimiter::builder(q).algorithm(a).sharded().build();
        match a {
            Algorithm::TokenBucket => assert!(built.unwrap().shards() >= 1),
            _ => assert_eq!(built.unwrap_err(), BuildError::NotShardable(a)),
        }
    }
    assert_eq!(
        DirectLimiter::builder(q).shards(0).build().unwrap_err(),
        BuildError::ZeroShards
    );
    assert_eq!(DirectLimiter::builder(q).build().unwrap().shards(), 0);
}

#[test]
fn one_thread_decides_exactly_as_the_plain_limiter() {
    let q = "5/s burst 3".parse::<Quota>().unwrap();
    let clock = ManualClock::new();
    let sharded = DirectLimiter::builder(q)
        .sharded()
        .clock(clock.clone())
        .build()
        .unwrap();
    let plain = DirectLimiter::builder(q)
        .clock(clock.clone())
        .build()
        .unwrap();
    for i in 0..200u64 {
        clock.set(Duration::from_millis(i * 37));
        let (a, b) = (sharded.check(), plain.check());
        assert_eq!(a.is_allowed(), b.is_allowed(), "check {i}");
        assert_eq!(a.retry_after(), b.retry_after(), "check {i}");
        if i % 50 == 49 {
            sharded.reset();
            plain.reset();
        }
    }
}
