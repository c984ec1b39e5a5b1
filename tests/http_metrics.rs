//! Feature `metrics`: the layer counts admitted, denied, exempt and key-failed
//! requests per policy, through the `metrics` facade, over a real socket.

#![cfg(all(feature = "metrics", not(loom)))]

mod support;

use axum::routing::get as route_get;
use axum::Router;
use metrics::{Counter, CounterFn, Gauge, Histogram, Key, KeyName, Metadata, SharedString, Unit};
use ratecell::http::{Policy, RateLimitLayer, REQUESTS_COUNTER};
use ratecell::Limiter;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use support::{get, serve};

/// Counts per `(policy, outcome)`.
#[derive(Default)]
struct Recorder {
    counters: Mutex<BTreeMap<(String, String), Arc<Count>>>,
}

#[derive(Default)]
struct Count(AtomicU64);

impl CounterFn for Count {
    fn increment(&self, value: u64) {
        // A test tally: no other memory depends on it.
        self.0.fetch_add(value, Ordering::Relaxed);
    }
    fn absolute(&self, value: u64) {
        // As above.
        self.0.fetch_max(value, Ordering::Relaxed);
    }
}

impl Recorder {
    fn count(&self, policy: &str, outcome: &str) -> u64 {
        let map = self.counters.lock().unwrap();
        // Read after the requests' responses arrived: nothing else to order with.
        map.get(&(policy.into(), outcome.into()))
            .map_or(0, |c| c.0.load(Ordering::Relaxed))
    }
}

impl metrics::Recorder for Recorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        assert_eq!(key.name(), REQUESTS_COUNTER);
        let label = |name: &str| {
            key.labels()
                .find(|l| l.key() == name)
                .map_or(String::new(), |l| l.value().to_string())
        };
        let count = Arc::clone(
            self.counters
                .lock()
                .unwrap()
                .entry((label("policy"), label("outcome")))
                .or_default(),
        );
        Counter::from_arc(count)
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

#[tokio::test]
async fn outcomes_are_counted_per_policy() {
    let recorder = Arc::new(Recorder::default());
    let per_ip = Limiter::builder("1/min".parse().unwrap()).build().unwrap();
    let global = Limiter::builder("100/min".parse().unwrap())
        .build()
        .unwrap();
    let layer = RateLimitLayer::new(Policy::keyed("per-ip", per_ip))
        .policy(Policy::keyed("global", global))
        .exempt_path("/health");
    // Counters are registered when the layer wraps the routes: with_state does it now.
    let app = metrics::with_local_recorder(&*recorder, || {
        Router::new()
            .route("/", route_get(|| async { "hello" }))
            .route("/health", route_get(|| async { "ok" }))
            .layer(layer)
            .with_state::<()>(())
    });
    let addr = serve(app).await;
    assert_eq!(get(addr, "/", &[]).await.status, 200);
    assert_eq!(get(addr, "/", &[]).await.status, 429);
    assert_eq!(get(addr, "/", &[]).await.status, 429);
    assert_eq!(get(addr, "/health", &[]).await.status, 200);
    assert_eq!(recorder.count("per-ip", "admitted"), 1);
    assert_eq!(recorder.count("global", "admitted"), 1);
    assert_eq!(recorder.count("per-ip", "denied"), 2);
    assert_eq!(recorder.count("global", "denied"), 0);
    assert_eq!(recorder.count("", "exempt"), 1);
    assert_eq!(recorder.count("", "key_error"), 0);
}

/// A Redis policy whose server does not answer: counted as `failed`, not
/// admitted; the local policy beside it counts its admissions as usual.
#[cfg(feature = "redis")]
#[tokio::test]
async fn redis_failures_are_counted_as_failed() {
    use ratecell::redis::{FailurePolicy, RedisLimiter};
    use std::time::Duration;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let shared = RedisLimiter::builder("3/min".parse().unwrap())
        .timeout(Duration::from_millis(200))
        .on_failure(FailurePolicy::Open)
        .connect(&format!("redis://127.0.0.1:{port}"))
        .await
        .unwrap();
    let recorder = Arc::new(Recorder::default());
    let local = Limiter::builder("2/min".parse().unwrap()).build().unwrap();
    let layer =
        RateLimitLayer::new(Policy::keyed("local", local)).policy(Policy::redis("shared", shared));
    let app = metrics::with_local_recorder(&*recorder, || {
        Router::new()
            .route("/", route_get(|| async { "hello" }))
            .layer(layer)
            .with_state::<()>(())
    });
    let addr = serve(app).await;
    assert_eq!(get(addr, "/", &[]).await.status, 200);
    assert_eq!(get(addr, "/", &[]).await.status, 200);
    assert_eq!(get(addr, "/", &[]).await.status, 429);
    assert_eq!(recorder.count("shared", "failed"), 2);
    assert_eq!(recorder.count("shared", "admitted"), 0);
    assert_eq!(recorder.count("local", "admitted"), 2);
    assert_eq!(recorder.count("local", "denied"), 1);
    assert_eq!(recorder.count("local", "failed"), 0);
}
