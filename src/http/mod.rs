//! HTTP servers: a tower layer for axum and hyper (feature `tower`; `axum` adds
//! axum's `ConnectInfo` as the peer address).
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use ratecell::http::{Policy, RateLimitLayer};
//! use ratecell::Limiter;
//! use std::net::SocketAddr;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let per_ip = Limiter::builder("5/10s".parse()?).build()?;
//! let app = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .route("/health", get(|| async { "ok" }))
//!     .layer(RateLimitLayer::new(Policy::keyed("per-ip", per_ip)).exempt_path("/health"));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
//! # Ok(()) }
//! ```
//!
//! Keys come from the peer address unless [trusted
//! proxies](RateLimitLayer::trust_proxies) are named: a forged `X-Forwarded-For`
//! from anyone else is ignored. A denial is a 429 with `Retry-After` (seconds,
//! rounded up, at least 1), the IETF `RateLimit-Policy` and `RateLimit` fields and
//! an RFC 9457 `application/problem+json` body; admitted responses carry the IETF
//! fields and the handlers find every policy's [`Decision`](crate::Decision) in
//! the request's [`Decisions`] extension.
//!
//! With feature `redis`, `Policy::redis` shares a policy among processes through
//! Redis; a layer holding one decides asynchronously, and answers per the
//! limiter's failure policy when Redis does not.
//! Besides a keyed or global limiter, a policy may be a [stack of
//! quotas](Policy::stacked) (each an item of `RateLimit-Policy`) or an
//! [in-flight limit](Policy::in_flight) (at most so many requests inside the
//! service at once; 503 when full):
//!
//! ```
//! use ratecell::http::{Policy, RateLimitLayer};
//! use ratecell::{ConcurrencyLimiter, Quota, StackedLimiter};
//!
//! let stack = StackedLimiter::builder(Quota::parse_stack("10/s; 1000/day")?).build()?;
//! let layer = RateLimitLayer::new(Policy::stacked("api", stack)) // "api-0", "api-1"
//!     .policy(Policy::in_flight("conns", ConcurrencyLimiter::new(64)?));
//! assert_eq!(layer.in_flight_policies().len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod denied;
mod fields;
mod in_flight;
mod key;
mod layer;
mod observe;
mod policy;
#[cfg(feature = "redis")]
mod remote;
mod service;

pub use denied::{Denied, QUOTA_EXCEEDED_TYPE};
pub use fields::{
    fields, number_value, policy_value, ratelimit_value, retry_after_secs, RATELIMIT,
    RATELIMIT_POLICY, RETRY_AFTER, X_RATELIMIT_LIMIT, X_RATELIMIT_REMAINING, X_RATELIMIT_RESET,
};
pub use ipnet::IpNet;
pub use key::{peer_addr, ForwardedHeader, Key, KeyExtractor, KeyFn};
pub use layer::RateLimitLayer;
#[cfg(feature = "metrics")]
pub use observe::REQUESTS_COUNTER;
pub use policy::Policy;
pub use service::{AdmittedFields, Decisions, RateLimit, ResponseFuture};
