//! The HTTP layer with a Redis policy, in a real axum server on 127.0.0.1:0 against
//! a real `redis-server`: the URL in `RATECELL_REDIS_URL` (default
//! `redis://127.0.0.1:6379`); a server that does not answer fails the tests.

#![cfg(all(feature = "redis", not(loom)))]

mod support;

use axum::routing::get as route_get;
use axum::Router;
use ratecell::http::{Decisions, Key, Policy, RateLimitLayer};
use ratecell::redis::{FailurePolicy, Raw, RedisLimiter};
use ratecell::{Limiter, Quota};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use support::{serve, Reply};

fn url() -> String {
    std::env::var("RATECELL_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A prefix no other test (or earlier run) uses.
fn fresh_prefix(name: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("ratecell-test:http:{name}:{}:{t}:", std::process::id())
}

/// The layer's Redis key for the loopback client.
const CLIENT: Raw<'static> = Raw(b"ip:127.0.0.1");

/// A token-bucket limiter in the test server under a fresh prefix; panics when the
/// server does not answer.
async fn redis_limiter(q: &str, name: &str) -> Arc<RedisLimiter> {
    let url = url();
    let lim = RedisLimiter::builder(q.parse().unwrap())
        .prefix(fresh_prefix(name))
        .timeout(Duration::from_secs(5))
        .on_failure(FailurePolicy::Closed)
        .connect(&url)
        .await
        .unwrap();
    if let Err(e) = lim.reset(&CLIENT).await {
        panic!("RATECELL_REDIS_URL={url} does not answer: {e}");
    }
    Arc::new(lim)
}

/// A limiter whose server never existed (a free port nobody listens on).
async fn unreachable(q: &str, policy: FailurePolicy) -> Arc<RedisLimiter> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let lim = RedisLimiter::builder(q.parse().unwrap())
        .timeout(Duration::from_millis(200))
        .on_failure(policy)
        .connect(&format!("redis://127.0.0.1:{port}"))
        .await
        .unwrap();
    Arc::new(lim)
}

fn keyed(q: &str) -> Arc<Limiter> {
    Arc::new(
        Limiter::builder(q.parse::<Quota>().unwrap())
            .capacity(1024)
            .build()
            .unwrap(),
    )
}

fn app(layer: RateLimitLayer) -> Router {
    Router::new()
        .route("/", route_get(|| async { "hello" }))
        .route(
            "/left",
            route_get(|req: axum::extract::Request| async move {
                let d = req.extensions().get::<Decisions>().cloned().unwrap();
                let all: Vec<String> = d
                    .iter()
                    .map(|(n, d)| format!("{n}:{}", d.remaining()))
                    .collect();
                all.join(",")
            }),
        )
        .layer(layer)
}

/// Far above any timeout of the limiters: a bound on hanging, not a measurement.
const NO_HANG: Duration = Duration::from_secs(20);

async fn get(addr: SocketAddr, path: &str) -> Reply {
    tokio::time::timeout(NO_HANG, support::get(addr, path, &[]))
        .await
        .expect("a request hung")
}

fn loopback() -> Key {
    Key::Ip(IpAddr::from([127, 0, 0, 1]))
}

const PROBLEM_20S: &str =
    "{\"type\":\"https://iana.org/assignments/http-problem-types#quota-exceeded\",\
\"title\":\"Request cannot be satisfied as assigned quota has been exceeded\",\"status\":429,\
\"detail\":\"quota exceeded; retry in 20 s\",\"violated-policies\":[\"shared\"]}";

/// The same quota in memory and in Redis gives the same statuses, fields and body.
#[tokio::test]
async fn a_redis_policy_answers_exactly_as_a_local_one() {
    let local = Policy::keyed("shared", keyed("3/min"));
    let remote = Policy::redis("shared", redis_limiter("3/min", "exact").await);
    for policy in [local, remote] {
        let addr = serve(app(RateLimitLayer::new(policy))).await;
        for (r, t) in [(2, 20), (1, 40), (0, 60)] {
            let res = get(addr, "/").await;
            assert_eq!((res.status, res.body.as_str()), (200, "hello"));
            assert_eq!(res.field("ratelimit-policy"), "\"shared\";q=3;w=60");
            assert_eq!(res.field("ratelimit"), format!("\"shared\";r={r};t={t}"));
            assert!(res.headers.get("retry-after").is_none());
        }
        let res = get(addr, "/").await;
        assert_eq!(res.status, 429);
        assert_eq!(res.field("content-type"), "application/problem+json");
        assert_eq!(res.field("retry-after"), "20");
        assert_eq!(res.field("ratelimit-policy"), "\"shared\";q=3;w=60");
        assert_eq!(res.field("ratelimit"), "\"shared\";r=0;t=60");
        assert_eq!(res.body, PROBLEM_20S);
    }
}

/// Exact counts: a key's quota is spent in Redis, another client's is not.
#[tokio::test]
async fn a_redis_policy_admits_exactly_its_quota() {
    let lim = redis_limiter("5/min", "counts").await;
    let addr = serve(app(RateLimitLayer::new(Policy::redis(
        "shared",
        lim.clone(),
    ))))
    .await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(get(addr, "/").await.status);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
    let s = lim.stats();
    assert_eq!((s.admitted, s.denied + s.denied_locally), (5, 3));
    let d = lim.peek(&CLIENT).await;
    assert!(!d.is_allowed());
    // Another key, in the same Redis, untouched.
    assert_eq!(lim.peek(&Raw(b"ip:127.0.0.2")).await.remaining(), 4);
    lim.reset(&CLIENT).await.unwrap();
}

/// A local denial asks nothing of Redis; a Redis denial consumes nothing locally.
#[tokio::test]
async fn a_mixed_local_and_redis_stack_is_all_or_nothing() {
    // The local policy denies first: Redis keeps what the denied request would have taken.
    let shared = redis_limiter("3/min", "mixed-local").await;
    let layer = RateLimitLayer::new(Policy::keyed("burst", keyed("2/min")))
        .policy(Policy::redis("shared", shared.clone()));
    let addr = serve(app(layer)).await;
    let res = get(addr, "/left").await;
    assert_eq!((res.status, res.body.as_str()), (200, "burst:1,shared:2"));
    assert_eq!(
        res.field("ratelimit-policy"),
        "\"burst\";q=2;w=60, \"shared\";q=3;w=60"
    );
    assert_eq!(res.field("ratelimit"), "\"burst\";r=1;t=30");
    assert_eq!(get(addr, "/").await.status, 200);
    for _ in 0..3 {
        let res = get(addr, "/").await;
        assert_eq!(res.status, 429);
        assert!(res.body.ends_with("\"violated-policies\":[\"burst\"]}"));
    }
    // One unit left: a check would admit and leave none.
    let d = shared.peek(&CLIENT).await;
    assert_eq!((d.is_allowed(), d.remaining()), (true, 0));
    assert_eq!(shared.stats().admitted, 2);

    // Redis denies: the local policy keeps what the denied requests would have taken.
    let local = keyed("5/min");
    let shared = redis_limiter("2/min", "mixed-redis").await;
    let layer = RateLimitLayer::new(Policy::keyed("local", local.clone()))
        .policy(Policy::redis("shared", shared.clone()));
    let addr = serve(app(layer)).await;
    assert_eq!(get(addr, "/").await.status, 200);
    let res = get(addr, "/").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.field("ratelimit"), "\"shared\";r=0;t=60");
    for i in 0..3 {
        let res = get(addr, "/").await;
        assert_eq!(res.status, 429);
        assert_eq!(res.field("retry-after"), "30");
        // Later denials come from the deny cache, which reports the retry as reset.
        if i == 0 {
            assert_eq!(res.field("ratelimit"), "\"shared\";r=0;t=60");
        }
        assert!(res.body.ends_with("\"violated-policies\":[\"shared\"]}"));
    }
    // Three of five left: a check would leave two.
    assert_eq!(local.peek(&loopback()).remaining(), 2);
    shared.reset(&CLIENT).await.unwrap();
}

/// Redis away: fail open admits (the local policies still limit, and give the
/// `RateLimit` field); fail closed answers 503 and consumes nothing locally.
#[tokio::test]
async fn redis_away_fails_open_or_closed_in_the_layer() {
    let open = unreachable("3/min", FailurePolicy::Open).await;
    let addr = serve(app(RateLimitLayer::new(Policy::redis(
        "shared",
        open.clone(),
    ))))
    .await;
    for _ in 0..5 {
        let res = get(addr, "/").await;
        assert_eq!((res.status, res.body.as_str()), (200, "hello"));
        assert_eq!(res.field("ratelimit-policy"), "\"shared\";q=3;w=60");
        assert!(res.headers.get("ratelimit").is_none());
    }
    assert_eq!(open.stats().failed_open, 5);

    let open = unreachable("3/min", FailurePolicy::Open).await;
    let layer = RateLimitLayer::new(Policy::keyed("local", keyed("2/min")))
        .policy(Policy::redis("shared", open));
    let addr = serve(app(layer)).await;
    let res = get(addr, "/").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.field("ratelimit"), "\"local\";r=1;t=30");
    assert_eq!(get(addr, "/").await.status, 200);
    let res = get(addr, "/").await;
    assert_eq!(res.status, 429);
    assert!(res.body.ends_with("\"violated-policies\":[\"local\"]}"));

    let closed = unreachable("3/min", FailurePolicy::Closed).await;
    let local = keyed("2/min");
    let layer = RateLimitLayer::new(Policy::keyed("local", local.clone()))
        .policy(Policy::redis("shared", closed.clone()));
    let addr = serve(app(layer)).await;
    for _ in 0..3 {
        let res = get(addr, "/").await;
        assert_eq!(res.status, 503);
        assert_eq!(res.field("retry-after"), "1");
        assert_eq!(res.field("content-type"), "application/problem+json");
        assert!(res.body.contains("\"status\":503"), "{}", res.body);
    }
    assert_eq!(local.peek(&loopback()).remaining(), 1);
    assert_eq!(closed.stats().failed_closed, 3);
}

/// Two Redis policies: both are peeked before either consumes, so a denial by
/// the second leaves the first untouched.
#[tokio::test]
async fn two_redis_policies_peek_before_either_consumes() {
    let long = redis_limiter("3/min", "two-long").await;
    let short = redis_limiter("2/min", "two-short").await;
    let layer = RateLimitLayer::new(Policy::redis("long", long.clone()))
        .policy(Policy::redis("short", short.clone()));
    let addr = serve(app(layer)).await;
    let res = get(addr, "/left").await;
    assert_eq!((res.status, res.body.as_str()), (200, "long:2,short:1"));
    assert_eq!(
        res.field("ratelimit-policy"),
        "\"long\";q=3;w=60, \"short\";q=2;w=60"
    );
    assert_eq!(res.field("ratelimit"), "\"short\";r=1;t=30");
    assert_eq!(get(addr, "/").await.status, 200);
    for _ in 0..3 {
        let res = get(addr, "/").await;
        assert_eq!(res.status, 429);
        assert!(res.body.ends_with("\"violated-policies\":[\"short\"]}"));
    }
    // "long" admitted two of three: a check would still pass, leaving none.
    assert_eq!(long.stats().admitted, 2);
    let d = long.peek(&CLIENT).await;
    assert_eq!((d.is_allowed(), d.remaining()), (true, 0));
    long.reset(&CLIENT).await.unwrap();
    short.reset(&CLIENT).await.unwrap();
}
