//! The local deny cache: a client hammering while denied costs (almost) no round
//! trips, counted by the limiter and by the server's own command statistics.

use super::{clean, fresh_prefix, server};
use crate::redis::RedisLimiter;
use crate::{Algorithm, Quota};
use redis::aio::ConnectionManager;
use std::string::String;
use std::time::Duration;

/// Calls of EVALSHA and EVAL the server has run, from `INFO commandstats`.
async fn script_calls(conn: &mut ConnectionManager) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .unwrap();
    info.lines()
        .filter(|l| l.starts_with("cmdstat_evalsha:") || l.starts_with("cmdstat_eval:"))
        .filter_map(|l| {
            l.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

#[tokio::test]
async fn redis_deny_cache_spares_round_trips_of_a_denied_client() {
    let Some(mut conn) = server().await else {
        return;
    };
    for algorithm in Algorithm::ALL {
        let prefix = fresh_prefix("denycache");
        let lim = RedisLimiter::builder(Quota::per_hour(5).unwrap())
            .algorithm(algorithm)
            .prefix(&prefix)
            .timeout(Duration::from_secs(5))
            .build_with(conn.clone())
            .unwrap();
        for _ in 0..5 {
            assert!(lim.check("hammer").await.is_allowed());
        }
        let before = (lim.stats().round_trips, script_calls(&mut conn).await);
        const HAMMER: u64 = 10_000;
        for _ in 0..HAMMER {
            let d = lim.check("hammer").await;
            assert!(!d.is_allowed());
            assert!(d.retry_after().unwrap() > Duration::ZERO);
        }
        let trips = lim.stats().round_trips - before.0;
        // The server's count also holds other tests' scripts: an upper bound.
        let calls = script_calls(&mut conn).await - before.1;
        assert!(trips * 100 <= HAMMER, "{algorithm:?}: {trips} round trips");
        assert_eq!(trips, 1, "{algorithm:?}: only the first denial asks Redis");
        assert!(calls >= trips);
        assert_eq!(lim.stats().denied_locally, HAMMER - 1);
        assert_eq!(lim.stats().denied, 1);
        // This process's reset clears its cached denial.
        lim.reset("hammer").await.unwrap();
        assert!(lim.check("hammer").await.is_allowed());
        // A denied larger cost is not cached: a unit may fit sooner.
        for _ in 0..4 {
            assert!(lim.check("n").await.is_allowed());
        }
        let t = lim.stats().round_trips;
        assert!(!lim.check_n("n", 2).await.unwrap().is_allowed());
        assert!(lim.check("n").await.is_allowed());
        assert_eq!(lim.stats().round_trips - t, 2);
        clean(&mut conn, &prefix).await;
    }
}

#[tokio::test]
async fn redis_without_deny_cache_every_check_is_a_round_trip() {
    let Some(mut conn) = server().await else {
        return;
    };
    let prefix = fresh_prefix("nocache");
    let lim = super::limiter(
        &conn,
        Quota::per_hour(1).unwrap(),
        Algorithm::TokenBucket,
        &prefix,
    );
    for _ in 0..20 {
        let _ = lim.check("k").await;
    }
    let s = lim.stats();
    assert_eq!(
        (s.round_trips, s.admitted, s.denied, s.denied_locally),
        (20, 1, 19, 0)
    );
    clean(&mut conn, &prefix).await;
}
