//! The same sequences against the in-memory `Limiter` on a `ManualClock` and
//! against `RedisLimiter` at the same injected times: every `Decision` equal, field
//! for field (the internal numbers too), for all five algorithms.

use super::{clean, fresh_prefix, limiter, server};
use crate::{Algorithm, Limiter, ManualClock, Quota};
use std::time::Duration;
use std::vec::Vec;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn quotas(algorithm: Algorithm) -> Vec<Quota> {
    let mut q = std::vec![
        Quota::new(3, Duration::from_secs(1)).unwrap(),
        Quota::new(10, Duration::from_secs(60)).unwrap(),
        Quota::new(7, Duration::from_nanos(999_983)).unwrap(),
        Quota::new(100, Duration::from_secs(3600)).unwrap(),
        Quota::new(1000, Duration::from_secs(86_400)).unwrap(),
        // A period that divides a second, and one of a day, for the windows' paths.
        Quota::new(5, Duration::from_millis(100)).unwrap(),
        Quota::new(20, Duration::from_secs(86_400)).unwrap(),
        // Numbers past the scripts' fast paths: the exact paths alone decide.
        Quota::new(4, Duration::from_secs(86_400 * 365 * 30)).unwrap(),
    ];
    if matches!(algorithm, Algorithm::TokenBucket | Algorithm::LeakyBucket) {
        q.push(Quota::per_second(5).unwrap().with_burst(12).unwrap());
        q.push(Quota::per_day(50_000).unwrap().with_burst(3).unwrap());
        q.push(
            Quota::new(3, Duration::from_nanos(1 << 61))
                .unwrap()
                .with_burst(2)
                .unwrap(),
        );
    }
    q
}

/// Runs `steps` random operations for one algorithm and quota from `start`.
async fn run(algorithm: Algorithm, quota: Quota, start: u64, seed: u64, steps: usize) {
    let Some(conn) = server().await else { return };
    let prefix = fresh_prefix("conformance");
    let remote = limiter(&conn, quota, algorithm, &prefix);
    let clock = ManualClock::new();
    clock.set_nanos(start);
    let local = Limiter::builder(quota)
        .algorithm(algorithm)
        .capacity(64)
        .clock(clock.clone())
        .build()
        .unwrap();
    let (limit, period) = (u64::from(quota.limit()), quota.period().as_nanos() as u64);
    let max = u64::from(
        if algorithm == Algorithm::TokenBucket || algorithm == Algorithm::LeakyBucket {
            quota.burst()
        } else {
            quota.limit()
        },
    );
    let keys = ["a", "b"];
    let mut rng = Rng(seed | 1);
    let mut now = start;
    let (mut allowed, mut denied) = (0, 0);
    for step in 0..steps {
        let key = keys[rng.below(2) as usize];
        match rng.below(20) {
            // Time moves: not at all, a little, about an interval, a period, or back.
            0..=5 => {}
            6..=9 => now += rng.below(period / limit + 1),
            10..=11 => now += rng.below(period * 2 + 1),
            12 => now = now.saturating_sub(rng.below(period / limit + 1)),
            _ => {}
        }
        // The contract holds below 2^63 ns; stay well inside it.
        now = now.min(1 << 62);
        clock.set_nanos(now);
        let what = rng.below(20);
        let (got, want) = if what == 0 {
            remote.reset(key).await.unwrap();
            local.reset(key);
            continue;
        } else if what <= 3 {
            let n = rng.below(max + 2) as u32;
            (
                remote.peek_at(key, n, now).await.unwrap(),
                local.peek_n(key, n),
            )
        } else {
            // Mostly unit costs, some larger, some past the maximum.
            let n = match rng.below(4) {
                0 => rng.below(max + 2) as u32,
                _ => 1,
            };
            (
                remote.check_at(key, n, now).await.unwrap(),
                local.check_n(key, n),
            )
        };
        match want {
            Ok(d) if d.is_allowed() => allowed += 1,
            Ok(_) => denied += 1,
            Err(_) => {}
        }
        assert_eq!(
            got, want,
            "{algorithm:?} {quota} step {step}: key {key} at {now} ({what})"
        );
    }
    // The sequence exercised both answers.
    assert!(
        allowed > 20 && denied > 20,
        "{algorithm:?} {quota}: {allowed} allowed, {denied} denied"
    );
    let mut conn = conn;
    clean(&mut conn, &prefix).await;
}

async fn all_quotas(algorithm: Algorithm) {
    for (i, quota) in quotas(algorithm).into_iter().enumerate() {
        let seed = 0x9E37_79B9 + i as u64 * 7919;
        // Near the timeline's start, and where the default clock reads today.
        run(algorithm, quota, 5, seed, 300).await;
        run(
            algorithm,
            quota,
            1_764_936_000_123_456_789,
            seed ^ 0xABCD,
            300,
        )
        .await;
    }
}

#[tokio::test]
async fn redis_conformance_token_bucket() {
    all_quotas(Algorithm::TokenBucket).await;
}

#[tokio::test]
async fn redis_conformance_leaky_bucket() {
    all_quotas(Algorithm::LeakyBucket).await;
}

#[tokio::test]
async fn redis_conformance_fixed_window() {
    all_quotas(Algorithm::FixedWindow).await;
}

#[tokio::test]
async fn redis_conformance_sliding_window_counter() {
    all_quotas(Algorithm::SlidingWindowCounter).await;
}

#[tokio::test]
async fn redis_conformance_sliding_window_log() {
    all_quotas(Algorithm::SlidingWindowLog).await;
}

/// 64 tasks on 4 connections, one key, one moment: exactly the quota is admitted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_contention_admits_exactly_the_quota() {
    let Some(conn) = server().await else { return };
    let (url, _) = super::url();
    let mut conns = std::vec![conn.clone()];
    for _ in 0..3 {
        let client = redis::Client::open(url.as_str()).unwrap();
        conns.push(redis::aio::ConnectionManager::new(client).await.unwrap());
    }
    let quota = Quota::new(100, Duration::from_secs(3600)).unwrap();
    for algorithm in Algorithm::ALL {
        let prefix = fresh_prefix("contention");
        let limiters: Vec<_> = conns
            .iter()
            .map(|c| std::sync::Arc::new(limiter(c, quota, algorithm, &prefix)))
            .collect();
        let now = 1_764_936_000_000_000_000;
        let mut tasks = Vec::new();
        for t in 0..64 {
            let lim = limiters[t % limiters.len()].clone();
            tasks.push(tokio::spawn(async move {
                let mut admitted = 0u32;
                for _ in 0..5 {
                    if lim
                        .check_at("hot", 1, now)
                        .await
                        .unwrap()
                        .unwrap()
                        .is_allowed()
                    {
                        admitted += 1;
                    }
                }
                admitted
            }));
        }
        let mut admitted = 0;
        for t in tasks {
            admitted += t.await.unwrap();
        }
        assert_eq!(admitted, 100, "{algorithm:?}");
        let mut c = conn.clone();
        clean(&mut c, &prefix).await;
    }
}
