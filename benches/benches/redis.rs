//! `RedisLimiter` on loopback beside the floor of one round trip (`EVALSHA` of a
//! script that returns at once) and beside a plain `INCR`+`PEXPIRE` pipeline (the
//! classic fixed-window counter), with 1 and 64 concurrent tasks on one
//! multiplexed connection: checks per second and latency percentiles, the median
//! of a few runs. Then the round trips a client hammering while denied costs, with
//! and without the local deny cache.
//!
//! Needs a server: `RATECELL_REDIS_URL` (default `redis://127.0.0.1:6379`).
//! `cargo bench --bench redis --features ratecell-benches/redis` (`REDIS_BENCH_OPS`
//! sets the checks per run).

use ratecell::redis::{RedisLimiter, RedisStats};
use ratecell::{Algorithm, Quota};
use redis::aio::ConnectionManager;
use redis::Script;
use std::sync::Arc;
use std::time::{Duration, Instant};

const RUNS: usize = 5;

#[derive(Clone, Copy)]
enum Work {
    Floor,
    IncrPexpire,
    Limiter(Algorithm),
}

impl Work {
    fn name(self) -> String {
        match self {
            Work::Floor => "floor (EVALSHA of `return 1`)".into(),
            Work::IncrPexpire => "INCR+PEXPIRE pipeline".into(),
            Work::Limiter(a) => format!("RedisLimiter {a:?}"),
        }
    }
}

struct Run {
    per_sec: f64,
    p50: Duration,
    p99: Duration,
}

async fn one_op(
    work: Work,
    conn: &mut ConnectionManager,
    floor: &Script,
    lim: Option<&RedisLimiter>,
    key: &str,
) {
    match work {
        Work::Floor => {
            let _: i64 = floor.key(key).invoke_async(conn).await.unwrap();
        }
        Work::IncrPexpire => {
            let _: (i64, i64) = redis::pipe()
                .cmd("INCR")
                .arg(key)
                .cmd("PEXPIRE")
                .arg(key)
                .arg(60_000)
                .query_async(conn)
                .await
                .unwrap();
        }
        Work::Limiter(_) => {
            let d = lim.unwrap().check(key).await;
            assert!(d.is_allowed(), "the bench's quota admits everything");
        }
    }
}

async fn run(work: Work, conn: &ConnectionManager, tasks: usize, ops: usize, n: usize) -> Run {
    let floor = Arc::new(Script::new(include_str!("lua/floor.lua")));
    // Quotas that admit every check of a run (each run has keys of its own),
    // with numbers the scripts' fast paths take (L*P below 2^51 ns).
    let quota = |a| match a {
        Algorithm::SlidingWindowLog => Quota::per_hour(ratecell::MAX_LOG_LIMIT),
        _ => Quota::per_minute(30_000),
    };
    let lim = match work {
        Work::Limiter(a) => Some(Arc::new(
            RedisLimiter::builder(quota(a).unwrap())
                .algorithm(a)
                .prefix(format!("bench:{a:?}:{}:{n}:", std::process::id()))
                .timeout(Duration::from_secs(5))
                .build_with(conn.clone())
                .unwrap(),
        )),
        _ => None,
    };
    let per_task = ops / tasks;
    // Warm up: scripts loaded, connection made.
    {
        let mut c = conn.clone();
        for _ in 0..100 {
            one_op(work, &mut c, &floor, lim.as_deref(), "bench:warm").await;
        }
    }
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let (mut c, floor, lim) = (conn.clone(), floor.clone(), lim.clone());
            tokio::spawn(async move {
                let key = format!("bench:key:{t}");
                let mut lat = Vec::with_capacity(per_task);
                for _ in 0..per_task {
                    let t0 = Instant::now();
                    one_op(work, &mut c, &floor, lim.as_deref(), &key).await;
                    lat.push(t0.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut lat = Vec::with_capacity(ops);
    for h in handles {
        lat.extend(h.await.unwrap());
    }
    let took = start.elapsed();
    lat.sort_unstable();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    Run {
        per_sec: lat.len() as f64 / took.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
    }
}

fn median<T, F: Fn(&T) -> f64>(xs: &[T], f: F) -> f64 {
    let mut v: Vec<f64> = xs.iter().map(f).collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

async fn hammer(conn: &ConnectionManager, cache: usize, n: u64) -> RedisStats {
    let lim = RedisLimiter::builder(Quota::per_hour(5).unwrap())
        .prefix(format!("bench:hammer:{cache}:{}:", std::process::id()))
        .deny_cache(cache)
        .build_with(conn.clone())
        .unwrap();
    for _ in 0..n {
        let _ = lim.check("client").await;
    }
    let _ = lim.reset("client").await;
    lim.stats()
}

fn main() {
    let url =
        std::env::var("RATECELL_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let ops: usize = std::env::var("REDIS_BENCH_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = redis::Client::open(url.as_str()).unwrap();
        let conn = ConnectionManager::new(client).await.unwrap();
        let works = [
            Work::Floor,
            Work::IncrPexpire,
            Work::Limiter(Algorithm::TokenBucket),
            Work::Limiter(Algorithm::FixedWindow),
            Work::Limiter(Algorithm::SlidingWindowCounter),
            Work::Limiter(Algorithm::SlidingWindowLog),
        ];
        println!("redis at {url}; {ops} checks per run, median of {RUNS} runs");
        for tasks in [1usize, 64] {
            let ops = if tasks == 1 { ops / 4 } else { ops };
            let mut floor_rate = 0.0;
            println!("\n{tasks} task(s):");
            println!(
                "{:<40} {:>12} {:>9} {:>10} {:>10}",
                "", "checks/s", "/ floor", "p50 µs", "p99 µs"
            );
            for work in works {
                let mut runs = Vec::new();
                for n in 0..RUNS {
                    runs.push(run(work, &conn, tasks, ops, n).await);
                }
                let rate = median(&runs, |r| r.per_sec);
                if matches!(work, Work::Floor) {
                    floor_rate = rate;
                }
                println!(
                    "{:<40} {:>12.0} {:>9.2} {:>10.1} {:>10.1}",
                    work.name(),
                    rate,
                    rate / floor_rate,
                    median(&runs, |r| r.p50.as_secs_f64() * 1e6),
                    median(&runs, |r| r.p99.as_secs_f64() * 1e6),
                );
            }
        }
        let n = 10_000;
        let with = hammer(&conn, ratecell::redis::DEFAULT_DENY_CACHE, n).await;
        let without = hammer(&conn, 0, n).await;
        println!(
            "\na client hammering while denied, {n} checks: {} round trips with the deny \
             cache, {} without ({:.2}%)",
            with.round_trips,
            without.round_trips,
            100.0 * with.round_trips as f64 / without.round_trips as f64
        );
    });
}
