//! On the server's own clock: limits hold, states carry a time to live no longer
//! than their meaning, reset forgets, and a flushed script is loaded again.

use super::{clean, fresh_prefix, limiter, server};
use crate::{Algorithm, Quota};

#[tokio::test]
async fn redis_server_time_limits_expire_and_reset() {
    let Some(mut conn) = server().await else {
        return;
    };
    let quota = Quota::per_hour(2).unwrap();
    for algorithm in Algorithm::ALL {
        let prefix = fresh_prefix("realtime");
        let lim = limiter(&conn, quota, algorithm, &prefix);
        assert!(lim.check("k").await.is_allowed(), "{algorithm:?}");
        assert!(lim.check("k").await.is_allowed(), "{algorithm:?}");
        let d = lim.check("k").await;
        assert!(!d.is_allowed(), "{algorithm:?}");
        // The state lives no longer than it means something, and no less.
        let ttl: i64 = redis::cmd("PTTL")
            .arg(lim.redis_key("k"))
            .query_async(&mut conn)
            .await
            .unwrap();
        let most = match algorithm {
            Algorithm::SlidingWindowCounter => 2 * 3_600_000,
            _ => 3_600_000,
        };
        assert!(ttl > 0 && ttl <= most, "{algorithm:?}: PTTL {ttl}");
        assert!(
            d.retry_after().unwrap().as_millis() <= most as u128,
            "{algorithm:?}"
        );
        // A peek, after the PTTL was read, consumes nothing, agrees, and sees the
        // state last at most as long as Redis keeps it.
        let p = lim.peek("k").await;
        assert!(!p.is_allowed());
        assert!(p.reset_after().as_millis() <= ttl as u128, "{algorithm:?}");
        lim.reset("k").await.unwrap();
        assert!(lim.peek("k").await.is_allowed());
        assert_eq!(
            lim.check_n("k", 2).await.unwrap().remaining(),
            0,
            "{algorithm:?}"
        );
        assert!(lim.check_n("k", 3).await.is_err());
        let s = lim.stats();
        assert_eq!((s.admitted, s.denied), (3, 1), "{algorithm:?}");
        clean(&mut conn, &prefix).await;
    }
}

#[tokio::test]
async fn redis_noscript_loads_the_script_again() {
    let Some(mut conn) = server().await else {
        return;
    };
    let prefix = fresh_prefix("noscript");
    let lim = limiter(
        &conn,
        Quota::per_minute(5).unwrap(),
        Algorithm::TokenBucket,
        &prefix,
    );
    assert!(lim.check("k").await.is_allowed());
    let _: String = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut conn)
        .await
        .unwrap();
    let d = lim.check("k").await;
    assert!(d.is_allowed());
    assert_eq!(d.remaining(), 3);
    assert_eq!(lim.stats().failed_open, 0);
    clean(&mut conn, &prefix).await;
}

/// A raw key is the Redis key's own bytes, so another program can name it; it is
/// a key of its own beside the hashed one.
#[tokio::test]
async fn redis_raw_keys_name_the_redis_key() {
    let Some(mut conn) = server().await else {
        return;
    };
    let prefix = fresh_prefix("raw");
    let lim = limiter(
        &conn,
        Quota::per_hour(1).unwrap(),
        Algorithm::FixedWindow,
        &prefix,
    );
    let raw = crate::redis::Raw(b"user:42\xff");
    assert!(lim.check(&raw).await.is_allowed());
    assert!(!lim.check(&raw).await.is_allowed());
    assert!(
        lim.check("user:42").await.is_allowed(),
        "the hashed key is another"
    );
    let mut name = prefix.clone().into_bytes();
    name.extend_from_slice(b"{user:42\xff}");
    assert_eq!(lim.redis_key(&raw), name);
    let exists: i64 = redis::cmd("EXISTS")
        .arg(&name)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(exists, 1);
    lim.reset(&raw).await.unwrap();
    assert!(lim.check(&raw).await.is_allowed());
    clean(&mut conn, &prefix).await;
}
