//! In-flight and stacked policies in a real axum server on 127.0.0.1:0, driven by
//! a real HTTP/1.1 client over TCP. Rate policies run on a `ManualClock`, so every
//! header field is exact.

#![cfg(not(loom))]

mod support;

use axum::routing::get as route_get;
use axum::Router;
use ratecell::http::{Key, Policy, RateLimitLayer};
use ratecell::{
    ConcurrencyLimiter, KeyedConcurrencyLimiter, Limiter, ManualClock, Quota, StackedLimiter,
};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use support::{get, serve, Reply};
use tokio::io::AsyncWriteExt as _;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;

const LOOPBACK: &str = "127.0.0.1/32";

/// The 503 body of a refusal by the in-flight policy "conns".
const FULL_503: &str = "{\"type\":\"about:blank\",\"title\":\"Service Unavailable\",\
    \"status\":503,\"detail\":\"too many requests in flight\",\
    \"violated-policies\":[\"conns\"]}";

fn keyed(q: &str) -> Arc<Limiter<ManualClock>> {
    Arc::new(
        Limiter::builder(q.parse().unwrap())
            .capacity(4096)
            .clock(ManualClock::new())
            .build()
            .unwrap(),
    )
}

/// A server whose `/slow` handler says when it starts (`entered`) and when its
/// future ends, completed or dropped (`left`), and answers only once `gate`
/// hands it a permit (first come, first served).
struct Slow {
    addr: SocketAddr,
    entered: mpsc::UnboundedReceiver<()>,
    left: mpsc::UnboundedReceiver<()>,
    gate: Arc<Semaphore>,
}

/// Sends on drop: the handler's future ended, however.
struct Leaving(mpsc::UnboundedSender<()>);

impl Drop for Leaving {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

async fn slow_server(layer: RateLimitLayer) -> Slow {
    let (entered_tx, entered) = mpsc::unbounded_channel();
    let (left_tx, left) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(0));
    let g = gate.clone();
    let app = Router::new()
        .route("/", route_get(|| async { "hello" }))
        .route(
            "/slow",
            route_get(move || {
                let (entered_tx, left_tx, gate) = (entered_tx.clone(), left_tx.clone(), g.clone());
                async move {
                    let _leaving = Leaving(left_tx);
                    entered_tx.send(()).unwrap();
                    gate.acquire().await.unwrap().forget();
                    "slow"
                }
            }),
        )
        .layer(layer);
    Slow {
        addr: serve(app).await,
        entered,
        left,
        gate,
    }
}

impl Slow {
    /// Starts a `/slow` request and returns once its handler runs.
    async fn start(&mut self, fields: &[(&'static str, &'static str)]) -> JoinHandle<Reply> {
        let (addr, fields) = (self.addr, fields.to_vec());
        let handle = tokio::spawn(async move { get(addr, "/slow", &fields).await });
        self.entered.recv().await.unwrap();
        handle
    }
}

async fn finished(handle: JoinHandle<Reply>) {
    let r = handle.await.unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, "slow"));
}

#[tokio::test]
async fn the_third_concurrent_request_gets_503_until_one_completes() {
    let conns = Arc::new(ConcurrencyLimiter::new(2).unwrap());
    let layer = RateLimitLayer::new(Policy::keyed("per-ip", keyed("100/hour")))
        .policy(Policy::in_flight("conns", conns.clone()));
    let mut s = slow_server(layer).await;
    let first = s.start(&[]).await;
    let second = s.start(&[]).await;
    assert_eq!(conns.in_flight(), 2);

    let r = get(s.addr, "/", &[]).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.body, FULL_503);
    assert_eq!(r.field("content-type"), "application/problem+json");
    assert!(r.headers.get("retry-after").is_none());
    // The rate policies are listed; no rate was checked, so no `RateLimit`.
    assert_eq!(r.field("ratelimit-policy"), "\"per-ip\";q=100;w=3600");
    assert!(r.headers.get("ratelimit").is_none());

    // The first completes: its permit is back before its answer is sent.
    s.gate.add_permits(1);
    finished(first).await;
    assert_eq!(conns.in_flight(), 1);
    let r = get(s.addr, "/", &[]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "hello"));
    // Two requests were checked before: this is the third unit of the hundred.
    assert_eq!(r.field("ratelimit"), "\"per-ip\";r=97;t=108");
    let third = s.start(&[]).await;
    assert_eq!(get(s.addr, "/", &[]).await.status, 503);

    s.gate.add_permits(2);
    finished(second).await;
    finished(third).await;
    assert_eq!(conns.in_flight(), 0);
}

#[tokio::test]
async fn keyed_in_flight_limits_each_client_alone_and_429_is_configurable() {
    let per_ip = Arc::new(KeyedConcurrencyLimiter::new(2, 1024).unwrap());
    let layer = RateLimitLayer::new(Policy::in_flight_keyed("conns-per-ip", per_ip.clone()))
        .trust_proxies([LOOPBACK.parse().unwrap()])
        .in_flight_status(http::StatusCode::TOO_MANY_REQUESTS);
    let mut s = slow_server(layer).await;
    let a = [("x-forwarded-for", "203.0.113.1")];
    let b = [("x-forwarded-for", "203.0.113.2")];
    let a1 = s.start(&a).await;
    let a2 = s.start(&a).await;

    let r = get(s.addr, "/", &a).await;
    assert_eq!(r.status, 429);
    assert_eq!(
        r.body,
        "{\"type\":\"about:blank\",\"title\":\"Too Many Requests\",\"status\":429,\
         \"detail\":\"too many requests in flight\",\"violated-policies\":[\"conns-per-ip\"]}"
    );
    // No rate policy: no rate fields, and no Retry-After.
    for name in ["retry-after", "ratelimit", "ratelimit-policy"] {
        assert!(r.headers.get(name).is_none(), "{name}");
    }

    // The other client has its own two.
    let b1 = s.start(&b).await;
    let key = |ip: &str| Key::Ip(ip.parse::<IpAddr>().unwrap());
    assert_eq!(per_ip.in_flight(&key("203.0.113.1")), 2);
    assert_eq!(per_ip.in_flight(&key("203.0.113.2")), 1);
    let r = get(s.addr, "/", &b).await;
    assert_eq!((r.status, r.body.as_str()), (200, "hello"));

    s.gate.add_permits(3);
    for h in [a1, a2, b1] {
        finished(h).await;
    }
    assert_eq!(per_ip.in_flight(&key("203.0.113.1")), 0);
    assert_eq!(get(s.addr, "/", &a).await.status, 200);
}

#[tokio::test]
async fn a_client_that_disconnects_gives_its_permit_back() {
    let conns = Arc::new(ConcurrencyLimiter::new(1).unwrap());
    let mut s = slow_server(RateLimitLayer::new(Policy::in_flight(
        "conns",
        conns.clone(),
    )))
    .await;
    let mut stream = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    stream
        .write_all(b"GET /slow HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    s.entered.recv().await.unwrap();
    assert_eq!(conns.in_flight(), 1);
    let r = get(s.addr, "/", &[]).await;
    assert_eq!((r.status, r.body.as_str()), (503, FULL_503));

    // The client goes away mid-request: the server drops the response future.
    drop(stream);
    tokio::time::timeout(Duration::from_secs(30), s.left.recv())
        .await
        .expect("the server never dropped the handler of a closed connection")
        .unwrap();
    // The permit is dropped with the same future, maybe a moment after the handler.
    for _ in 0..3000 {
        if conns.in_flight() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(conns.in_flight(), 0);
    let r = get(s.addr, "/", &[]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "hello"));
}

#[tokio::test]
async fn a_rate_denied_request_takes_no_permit() {
    let conns = Arc::new(ConcurrencyLimiter::new(1).unwrap());
    let layer = RateLimitLayer::new(Policy::keyed("per-ip", keyed("1/hour")))
        .policy(Policy::in_flight("conns", conns.clone()))
        .trust_proxies([LOOPBACK.parse().unwrap()]);
    let s = slow_server(layer).await;
    let a = [("x-forwarded-for", "203.0.113.1")];
    assert_eq!(get(s.addr, "/", &a).await.status, 200);
    for _ in 0..3 {
        let r = get(s.addr, "/", &a).await;
        assert_eq!(r.status, 429, "a rate denial, not a full in-flight policy");
        assert!(r.body.contains("\"violated-policies\":[\"per-ip\"]"));
        assert_eq!(r.field("retry-after"), "3600");
        assert_eq!(conns.in_flight(), 0);
    }
    // The one permit is free for another client.
    let r = get(s.addr, "/", &[("x-forwarded-for", "203.0.113.2")]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "hello"));
}

#[tokio::test]
async fn a_full_in_flight_policy_consumes_no_rate() {
    let rate = keyed("2/hour");
    let conns = Arc::new(ConcurrencyLimiter::new(1).unwrap());
    let layer = RateLimitLayer::new(Policy::keyed("per-ip", rate.clone()))
        .policy(Policy::in_flight("conns", conns.clone()));
    let mut s = slow_server(layer).await;
    let held = s.start(&[]).await;
    for _ in 0..3 {
        let r = get(s.addr, "/", &[]).await;
        assert_eq!((r.status, r.body.as_str()), (503, FULL_503));
        assert_eq!(r.field("ratelimit-policy"), "\"per-ip\";q=2;w=3600");
    }
    s.gate.add_permits(1);
    finished(held).await;
    let key = Key::Ip("127.0.0.1".parse::<IpAddr>().unwrap());
    // One of two left: a check would pass and leave none.
    let left = rate.peek(&key);
    assert_eq!((left.is_allowed(), left.remaining()), (true, 0));
    let r = get(s.addr, "/", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.field("ratelimit"), "\"per-ip\";r=0;t=3600");
    assert_eq!(get(s.addr, "/", &[]).await.status, 429);
}

fn stack(quotas: &str) -> Arc<StackedLimiter<ManualClock>> {
    Arc::new(
        StackedLimiter::builder(Quota::parse_stack(quotas).unwrap())
            .capacity(1024)
            .clock(ManualClock::new())
            .build()
            .unwrap(),
    )
}

#[tokio::test]
async fn every_quota_of_a_stack_is_in_ratelimit_policy_and_the_decider_in_ratelimit() {
    let api = stack("3/min; 2/hour");
    let layer = RateLimitLayer::new(Policy::stacked("api", api.clone()))
        .policy(Policy::keyed("per-ip", keyed("5/min")));
    let addr = serve(
        Router::new()
            .route("/", route_get(|| async { "hello" }))
            .layer(layer),
    )
    .await;
    let policy = "\"api-0\";q=3;w=60, \"api-1\";q=2;w=3600, \"per-ip\";q=5;w=60";
    let r = get(addr, "/", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.field("ratelimit-policy"), policy);
    // The hourly quota has the fewest left: it decides.
    assert_eq!(r.field("ratelimit"), "\"api-1\";r=1;t=1800");
    let r = get(addr, "/", &[]).await;
    assert_eq!(r.field("ratelimit"), "\"api-1\";r=0;t=3600");
    let r = get(addr, "/", &[]).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.field("ratelimit-policy"), policy);
    assert_eq!(r.field("ratelimit"), "\"api-1\";r=0;t=3600");
    assert_eq!(r.field("retry-after"), "1800");
    assert!(
        r.body.contains("\"violated-policies\":[\"api-1\"]"),
        "{}",
        r.body
    );
    // The denial by the hourly quota took nothing from the per-minute one.
    let key = Key::Ip("127.0.0.1".parse::<IpAddr>().unwrap());
    // One left there: a check would pass and leave none.
    let left = api.limiter(0).unwrap().peek(&key);
    assert_eq!((left.is_allowed(), left.remaining()), (true, 0));

    // The first quota decides when it has fewer left.
    let layer = RateLimitLayer::new(Policy::stacked("api", stack("1/min; 10/hour")));
    let addr = serve(
        Router::new()
            .route("/", route_get(|| async { "hello" }))
            .layer(layer),
    )
    .await;
    let r = get(addr, "/", &[]).await;
    assert_eq!(
        r.field("ratelimit-policy"),
        "\"api-0\";q=1;w=60, \"api-1\";q=10;w=3600"
    );
    assert_eq!(r.field("ratelimit"), "\"api-0\";r=0;t=60");
    let r = get(addr, "/", &[]).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.field("ratelimit"), "\"api-0\";r=0;t=60");
    assert_eq!(r.field("retry-after"), "60");
    assert!(r.body.contains("\"violated-policies\":[\"api-0\"]"));

    // A stack of one quota is named as the policy.
    let layer = RateLimitLayer::new(Policy::stacked("api", stack("5/min")));
    let addr = serve(
        Router::new()
            .route("/", route_get(|| async { "hello" }))
            .layer(layer),
    )
    .await;
    let r = get(addr, "/", &[]).await;
    assert_eq!(r.field("ratelimit-policy"), "\"api\";q=5;w=60");
    assert_eq!(r.field("ratelimit"), "\"api\";r=4;t=12");
}
