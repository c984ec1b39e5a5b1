//! The HTTP layer in a real axum server on 127.0.0.1:0, driven by a real HTTP/1.1
//! client over TCP.

#![cfg(not(loom))]

mod support;

use axum::routing::get as route_get;
use axum::Router;
use ratecell::http::{Decisions, ForwardedHeader, Key, KeyExtractor, Policy, RateLimitLayer};
use ratecell::{Algorithm, DirectLimiter, Limiter, Quota};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{get, request, serve, serve_without_peer};

fn keyed(q: &str) -> Arc<Limiter> {
    Arc::new(
        Limiter::builder(q.parse().unwrap())
            .capacity(4096)
            .build()
            .unwrap(),
    )
}

fn app(layer: RateLimitLayer) -> Router {
    Router::new()
        .route("/", route_get(|| async { "hello" }))
        .route("/health", route_get(|| async { "ok" }))
        .route("/batch", route_get(|| async { "batch" }))
        .route(
            "/left",
            route_get(|req: axum::extract::Request| async move {
                let d = req.extensions().get::<Decisions>().cloned();
                let (name, dec) = d.as_ref().and_then(|d| d.most_restrictive()).unwrap();
                format!("{name}:{}", dec.remaining())
            }),
        )
        .layer(layer)
}

fn per_ip(q: &str) -> RateLimitLayer {
    RateLimitLayer::new(Policy::keyed("per-ip", keyed(q)))
}

const LOOPBACK: &str = "127.0.0.1/32";

#[tokio::test]
async fn admitted_responses_carry_the_fields_and_the_decisions() {
    let addr = serve(app(per_ip("5/10s"))).await;
    let r = get(addr, "/left", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "per-ip:4");
    assert_eq!(r.field("ratelimit-policy"), "\"per-ip\";q=5;w=10");
    assert_eq!(r.field("ratelimit"), "\"per-ip\";r=4;t=2");
    assert!(r.headers.get("retry-after").is_none());
    assert!(r.headers.get("x-ratelimit-limit").is_none());
}

#[tokio::test]
async fn the_decisions_extension_can_be_turned_off() {
    let app = Router::new()
        .route(
            "/",
            route_get(|req: axum::extract::Request| async move {
                req.extensions().get::<Decisions>().is_some().to_string()
            }),
        )
        .layer(per_ip("5/10s").decisions_extension(false));
    let r = get(serve(app).await, "/", &[]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "false"));
    assert_eq!(r.field("ratelimit"), "\"per-ip\";r=4;t=2");
}

#[tokio::test]
async fn legacy_fields_on_request() {
    let addr = serve(app(per_ip("5/10s").legacy_fields(true))).await;
    let r = get(addr, "/", &[]).await;
    assert_eq!(r.field("x-ratelimit-limit"), "5");
    assert_eq!(r.field("x-ratelimit-remaining"), "4");
    assert_eq!(r.field("x-ratelimit-reset"), "2");
}

#[tokio::test]
async fn a_denial_is_429_with_the_fields_and_a_problem_body() {
    let addr = serve(app(per_ip("2/min"))).await;
    assert_eq!(get(addr, "/", &[]).await.status, 200);
    assert_eq!(get(addr, "/", &[]).await.status, 200);
    let r = get(addr, "/", &[]).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.field("content-type"), "application/problem+json");
    assert_eq!(r.field("retry-after"), "30");
    assert_eq!(r.field("ratelimit-policy"), "\"per-ip\";q=2;w=60");
    assert_eq!(r.field("ratelimit"), "\"per-ip\";r=0;t=60");
    for part in [
        "\"type\":\"https://iana.org/assignments/http-problem-types#quota-exceeded\"",
        "\"title\":\"",
        "\"status\":429",
        "\"detail\":\"",
        "\"violated-policies\":[\"per-ip\"]",
    ] {
        assert!(r.body.contains(part), "{part} not in {}", r.body);
    }
}

#[tokio::test]
async fn retry_after_rounds_a_300ms_wait_up_to_one_second() {
    let lim = Arc::new(
        Limiter::builder(Quota::new(1, Duration::from_millis(300)).unwrap())
            .build()
            .unwrap(),
    );
    let addr = serve(app(RateLimitLayer::new(Policy::keyed("fast", lim)))).await;
    assert_eq!(get(addr, "/", &[]).await.status, 200);
    let r = get(addr, "/", &[]).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.field("retry-after"), "1");
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(get(addr, "/", &[]).await.status, 200);
}

#[tokio::test]
async fn a_forged_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let layer = per_ip("1/min").trust_proxies(["10.0.0.0/8".parse().unwrap()]);
    let addr = serve(app(layer)).await;
    let xff = |ip| [("x-forwarded-for", ip)];
    assert_eq!(get(addr, "/", &xff("198.51.100.1")).await.status, 200);
    // Another forged address does not buy another quota: the key is the peer.
    assert_eq!(get(addr, "/", &xff("198.51.100.2")).await.status, 429);
    assert_eq!(get(addr, "/", &[]).await.status, 429);
}

#[tokio::test]
async fn behind_a_trusted_proxy_a_forged_left_entry_is_ignored() {
    let layer = per_ip("1/min").trust_proxies([LOOPBACK.parse().unwrap()]);
    let addr = serve(app(layer)).await;
    let xff = |v| [("x-forwarded-for", v)];
    assert_eq!(
        get(addr, "/", &xff("6.6.6.6, 203.0.113.1")).await.status,
        200
    );
    // Same real client (the rightmost untrusted entry), other forged prefix.
    assert_eq!(
        get(addr, "/", &xff("7.7.7.7, 203.0.113.1")).await.status,
        429
    );
    // Another real client has its own quota; the proxy itself has its own.
    assert_eq!(get(addr, "/", &xff("203.0.113.2")).await.status, 200);
    assert_eq!(get(addr, "/", &[]).await.status, 200);
}

#[tokio::test]
async fn rfc7239_forwarded_behind_a_trusted_proxy() {
    let layer = per_ip("1/min")
        .trust_proxies([LOOPBACK.parse().unwrap()])
        .forwarded_header(ForwardedHeader::Forwarded);
    let addr = serve(app(layer)).await;
    let fwd = |v| [("forwarded", v)];
    let client = "for=6.6.6.6, for=\"[2001:db8::17]:4711\";proto=https";
    assert_eq!(get(addr, "/", &fwd(client)).await.status, 200);
    let same = "for=\"[2001:db8::99]\"";
    assert_eq!(get(addr, "/", &fwd(same)).await.status, 429);
}

#[tokio::test]
async fn unparsable_entries_never_crash_nor_become_a_key() {
    let layer = per_ip("1/min").trust_proxies([LOOPBACK.parse().unwrap()]);
    let addr = serve(app(layer)).await;
    let xff = |v| [("x-forwarded-for", v)];
    // Garbage stops the walk at the trusted proxy: the request counts against it.
    assert_eq!(get(addr, "/", &xff("not-an-ip")).await.status, 200);
    assert_eq!(get(addr, "/", &xff("also garbage")).await.status, 429);
    assert_eq!(get(addr, "/", &xff("[::1, 999.0.0.1,,")).await.status, 429);
    assert_eq!(get(addr, "/", &[]).await.status, 429);
}

#[tokio::test]
async fn ipv6_clients_are_keyed_by_their_64_prefix() {
    let layer = per_ip("1/min").trust_proxies([LOOPBACK.parse().unwrap()]);
    let addr = serve(app(layer)).await;
    let xff = |v| [("x-forwarded-for", v)];
    assert_eq!(get(addr, "/", &xff("2001:db8:0:0::1")).await.status, 200);
    assert_eq!(
        get(addr, "/", &xff("2001:db8::ffff:1234")).await.status,
        429
    );
    assert_eq!(get(addr, "/", &xff("2001:db8:0:1::1")).await.status, 200);
    // A narrower prefix groups more.
    let layer = per_ip("1/min")
        .trust_proxies([LOOPBACK.parse().unwrap()])
        .ipv6_prefix(48);
    let addr = serve(app(layer)).await;
    assert_eq!(get(addr, "/", &xff("2001:db8:0:0::1")).await.status, 200);
    assert_eq!(get(addr, "/", &xff("2001:db8:0:1::1")).await.status, 429);
}

#[tokio::test]
async fn exemptions_skip_the_limit() {
    let layer = per_ip("1/min")
        .exempt_path("/health")
        .exempt_method(http::Method::OPTIONS)
        .exempt_if(|parts| parts.headers.contains_key("x-internal"));
    let addr = serve(app(layer)).await;
    for _ in 0..3 {
        assert_eq!(get(addr, "/health", &[]).await.status, 200);
        assert_eq!(get(addr, "/", &[("x-internal", "1")]).await.status, 200);
        assert_ne!(request(addr, "OPTIONS", "/", &[]).await.status, 429);
    }
    // None of those consumed: the one request of the quota is still there.
    assert_eq!(get(addr, "/", &[]).await.status, 200);
    assert_eq!(get(addr, "/", &[]).await.status, 429);
    // Client networks.
    let layer = per_ip("1/min").exempt_client(LOOPBACK.parse().unwrap());
    let addr = serve(app(layer)).await;
    for _ in 0..3 {
        assert_eq!(get(addr, "/", &[]).await.status, 200);
    }
}

#[tokio::test]
async fn cost_is_charged_all_or_nothing() {
    let layer = per_ip("5/min").cost(|parts| {
        parts
            .uri
            .query()
            .and_then(|q| q.strip_prefix("cost="))
            .and_then(|n| n.parse().ok())
            .unwrap_or(1)
    });
    let addr = serve(app(layer)).await;
    assert_eq!(get(addr, "/batch?cost=3", &[]).await.status, 200);
    let r = get(addr, "/batch?cost=3", &[]).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.field("ratelimit"), "\"per-ip\";r=2;t=36");
    assert_eq!(get(addr, "/batch?cost=2", &[]).await.status, 200);
    // More than the burst can never pass: 429 without a Retry-After to wait for.
    let r = get(addr, "/batch?cost=6", &[]).await;
    assert_eq!(r.status, 429);
    assert!(r.headers.get("retry-after").is_none());
    assert!(r.body.contains("can ever admit"), "{}", r.body);
}

#[tokio::test]
async fn stacked_policies_are_all_or_nothing() {
    let (burst, daily) = (keyed("2/min"), keyed("3/day"));
    let layer = RateLimitLayer::new(Policy::keyed("burst", burst.clone()))
        .policy(Policy::keyed("daily", daily.clone()));
    let addr = serve(app(layer)).await;
    let r = get(addr, "/", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.field("ratelimit-policy"),
        "\"burst\";q=2;w=60, \"daily\";q=3;w=86400"
    );
    assert_eq!(r.field("ratelimit"), "\"burst\";r=1;t=30");
    assert_eq!(get(addr, "/", &[]).await.status, 200);
    for _ in 0..3 {
        let r = get(addr, "/", &[]).await;
        assert_eq!(r.status, 429);
        assert!(r.body.contains("\"violated-policies\":[\"burst\"]"));
        assert_eq!(r.field("retry-after"), "30");
        assert!(r.field("ratelimit").starts_with("\"burst\";r=0"));
    }
    // The denials by "burst" took nothing from "daily": one request left there.
    let key = Key::Ip("127.0.0.1".parse::<IpAddr>().unwrap());
    let left = daily.peek(&key);
    assert!(left.is_allowed());
    assert_eq!(left.remaining(), 0);
}

#[tokio::test]
async fn a_leaky_bucket_policy_delays_admitted_requests() {
    let lim = Arc::new(
        Limiter::builder("5/s".parse().unwrap())
            .algorithm(Algorithm::LeakyBucket)
            .build()
            .unwrap(),
    );
    let addr = serve(app(RateLimitLayer::new(Policy::keyed("shaped", lim)))).await;
    let start = Instant::now();
    for _ in 0..3 {
        assert_eq!(get(addr, "/", &[]).await.status, 200);
    }
    // Admitted requests leave 200 ms apart: the third waited ~400 ms in all.
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(350), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[tokio::test]
async fn key_failure_is_500_by_default_and_configurable() {
    let addr = serve_without_peer(app(per_ip("5/min"))).await;
    let r = get(addr, "/", &[]).await;
    assert_eq!(r.status, 500);
    assert!(r.body.contains("\"status\":500"));
    let layer = per_ip("5/min").on_key_error(|_| {
        let mut res = http::Response::new("no key".to_string());
        *res.status_mut() = http::StatusCode::BAD_REQUEST;
        res
    });
    let r = get(serve_without_peer(app(layer)).await, "/", &[]).await;
    assert_eq!((r.status, r.body.as_str()), (400, "no key"));
}

#[tokio::test]
async fn header_global_and_closure_keys() {
    let layer = per_ip("1/min").key(KeyExtractor::Header(http::HeaderName::from_static(
        "x-api-key",
    )));
    let addr = serve(app(layer)).await;
    assert_eq!(get(addr, "/", &[("x-api-key", "a")]).await.status, 200);
    assert_eq!(get(addr, "/", &[("x-api-key", "a")]).await.status, 429);
    assert_eq!(get(addr, "/", &[("x-api-key", "b")]).await.status, 200);
    assert_eq!(get(addr, "/", &[]).await.status, 500);

    let one = DirectLimiter::builder("2/min".parse().unwrap())
        .build()
        .unwrap();
    let layer = RateLimitLayer::new(Policy::global("all", one)).key(KeyExtractor::Global);
    let addr = serve(app(layer)).await;
    assert_eq!(get(addr, "/", &[]).await.status, 200);
    assert_eq!(
        get(addr, "/", &[("x-forwarded-for", "1.2.3.4")])
            .await
            .status,
        200
    );
    assert_eq!(get(addr, "/", &[]).await.status, 429);

    let layer = per_ip("1/min").key(KeyExtractor::custom(|parts, _| {
        parts
            .uri
            .path()
            .strip_prefix('/')
            .map(|p| Key::Text(p.to_string()))
    }));
    let addr = serve(app(layer)).await;
    assert_eq!(get(addr, "/", &[]).await.status, 200);
    assert_eq!(get(addr, "/health", &[]).await.status, 200);
    assert_eq!(get(addr, "/", &[]).await.status, 429);
}

#[tokio::test]
async fn a_denial_handler_replaces_the_body_and_keeps_the_fields() {
    let layer = per_ip("1/min").on_denied(|denied| {
        let mut res = http::Response::new(format!("slow down ({})", denied.policy()));
        *res.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
        res
    });
    let addr = serve(app(layer)).await;
    assert_eq!(get(addr, "/", &[]).await.status, 200);
    let r = get(addr, "/", &[]).await;
    assert_eq!((r.status, r.body.as_str()), (503, "slow down (per-ip)"));
    assert_eq!(r.field("retry-after"), "60");
    assert_eq!(r.field("ratelimit"), "\"per-ip\";r=0;t=60");
}
