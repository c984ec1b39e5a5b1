//! The layer in a plain hyper server (no axum): the server puts the peer's
//! `SocketAddr` in the request extensions, the layer keys by it.

#![cfg(not(loom))]

mod support;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use ratecell::http::{Policy, RateLimitLayer};
use ratecell::Limiter;
use std::convert::Infallible;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tower::{Layer, Service};

async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"hello"))))
}

async fn serve_hyper(layer: RateLimitLayer) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let svc = layer.layer(tower::service_fn(hello));
    tokio::spawn(async move {
        loop {
            let (stream, peer) = listener.accept().await.unwrap();
            let svc = svc.clone();
            let per_request = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(peer);
                svc.clone().call(req)
            });
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, per_request)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_hyper_server_is_limited_by_peer_address() {
    let lim = Limiter::builder("2/min".parse().unwrap()).build().unwrap();
    let addr = serve_hyper(RateLimitLayer::new(Policy::keyed("per-ip", lim))).await;
    for _ in 0..2 {
        let r = support::get(addr, "/", &[]).await;
        assert_eq!((r.status, r.body.as_str()), (200, "hello"));
        assert!(r.field("ratelimit").starts_with("\"per-ip\";r="));
    }
    let r = support::get(addr, "/", &[]).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.field("content-type"), "application/problem+json");
    assert_eq!(r.field("retry-after"), "30");
}
