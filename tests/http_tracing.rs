//! Feature `tracing`: a denial is logged at debug level only, without the key
//! unless asked; a key failure is one warning.

#![cfg(all(feature = "tracing", not(loom)))]

mod support;

use axum::routing::get as route_get;
use axum::Router;
use ratecell::http::{Policy, RateLimitLayer};
use ratecell::Limiter;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use support::{get, serve, serve_without_peer};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Every event as `(level, "field=value ...")`.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<(Level, String)>>>);

struct Line<'a>(&'a mut String);

impl Visit for Line<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut text = String::new();
        event.record(&mut Line(&mut text));
        self.0
            .lock()
            .unwrap()
            .push((*event.metadata().level(), text));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

impl Capture {
    fn lines(&self) -> Vec<(Level, String)> {
        self.0.lock().unwrap().clone()
    }
}

fn app(log_keys: bool) -> Router {
    let lim = Limiter::builder("1/min".parse().unwrap()).build().unwrap();
    Router::new()
        .route("/", route_get(|| async { "hello" }))
        .layer(RateLimitLayer::new(Policy::keyed("per-ip", lim)).log_keys(log_keys))
}

// A current-thread runtime runs the server's tasks on this thread, where the
// capturing subscriber is the default.
#[tokio::test(flavor = "current_thread")]
async fn denials_log_at_debug_without_the_key_unless_asked() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let addr = serve(app(false)).await;
    assert_eq!(get(addr, "/", &[]).await.status, 200);
    assert_eq!(get(addr, "/", &[]).await.status, 429);
    let ours: Vec<_> = capture
        .lines()
        .into_iter()
        .filter(|(_, text)| text.contains("rate limited"))
        .collect();
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert_eq!(ours[0].0, Level::DEBUG);
    assert!(!ours[0].1.contains("127.0.0.1"), "{ours:?}");

    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let addr = serve(app(true)).await;
    get(addr, "/", &[]).await;
    get(addr, "/", &[]).await;
    let lines = capture.lines();
    assert!(
        lines.iter().any(|(_, t)| t.contains("key=127.0.0.1")),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_key_failure_is_one_warning() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let addr = serve_without_peer(app(false)).await;
    assert_eq!(get(addr, "/", &[]).await.status, 500);
    let warnings: Vec<_> = capture
        .lines()
        .into_iter()
        .filter(|(level, t)| *level == Level::WARN && t.contains("ratecell"))
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
}
