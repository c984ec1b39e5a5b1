//! One hello-world axum app, built four ways for `scripts/http_bench.sh`: no
//! limiter, the floor of any limiter layer (a layer that does nothing over a handler
//! that sends the two IETF fields), ratecell's layer, tower-governor's layer.
//!
//! ```text
//! cargo run --release -p ratecell-benches --features http --example http_hello -- none|floor|ratecell|governor [ADDR]
//! cargo run --release -p ratecell-benches --features http --example http_hello -- in-process [MODE [1|100000]]
//! ```
//!
//! `ratecell-nodec` is ratecell's layer without the `Decisions` request extension.
//!
//! Both limiters key by client address, read from `X-Forwarded-For` when it is
//! present (ratecell: behind the trusted proxy 127.0.0.1; tower-governor: its
//! `SmartIpKeyExtractor`), with a quota no load reaches, so every request takes the
//! admission path, and both send their rate-limit header fields.

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use http::Request;
use ratecell::http::{Policy, RateLimitLayer, RATELIMIT, RATELIMIT_POLICY};
use ratecell::{Limiter, Quota};
use std::net::SocketAddr;
use tower::util::MapRequestLayer;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::SmartIpKeyExtractor;
use tower_governor::GovernorLayer;

fn app(mode: &str) -> Router {
    let hello = Router::new().route("/", get(|| async { "hello" }));
    match mode {
        "none" => hello,
        // What any layer that sends the IETF fields costs: a layer that does
        // nothing, over a handler that returns the two fields with fixed values.
        "floor" => Router::new()
            .route(
                "/",
                get(|| async {
                    (
                        [
                            (RATELIMIT_POLICY, "\"per-ip\";q=4000000000;w=3600"),
                            (RATELIMIT, "\"per-ip\";r=3999999999;t=1"),
                        ],
                        "hello",
                    )
                }),
            )
            .layer(MapRequestLayer::new(|r: Request<Body>| r)),
        "ratecell" | "ratecell-nodec" => {
            // Keys stay live for an hour, as every key stays in tower-governor's
            // map: both sides serve the 100k keys from a resident state.
            let lim = Limiter::builder(Quota::per_hour(4_000_000_000).unwrap())
                .capacity(1 << 18)
                .build()
                .unwrap();
            hello.layer(
                RateLimitLayer::new(Policy::keyed("per-ip", lim))
                    .trust_proxies(["127.0.0.1/32".parse().unwrap()])
                    .decisions_extension(mode == "ratecell"),
            )
        }
        "governor" => {
            let config = GovernorConfigBuilder::default()
                .per_nanosecond(1)
                .burst_size(1_000_000_000)
                .key_extractor(SmartIpKeyExtractor)
                .use_headers()
                .finish()
                .unwrap();
            hello.layer(GovernorLayer::new(config))
        }
        other => {
            eprintln!("unknown mode {other:?}: none, floor, ratecell or governor");
            std::process::exit(2);
        }
    }
}

/// The three apps called in process, without sockets: each layer's own cost per
/// request, free of the network stack's noise.
fn in_process(keys: usize, only: Option<&str>) {
    use axum::extract::ConnectInfo;
    use tower::Service as _;
    let peer = ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000)));
    let ips: Vec<String> = (0..keys.max(1))
        .map(|x| format!("10.{}.{}.{}", x >> 16 & 255, x >> 8 & 255, x & 255))
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let all = ["none", "floor", "ratecell", "governor"];
    let modes: Vec<&str> = match only {
        Some(mode) => vec![mode; 2],
        None => all.iter().chain(&all).copied().collect(),
    };
    for mode in modes {
        // with_state finalizes the routes once, as serving does.
        let mut svc = app(mode).with_state::<()>(());
        let n = 1_000_000;
        let start = std::time::Instant::now();
        let cpu0 = cpu_ticks();
        rt.block_on(async {
            for i in 0..n {
                let mut req = http::Request::get("/");
                if keys > 1 {
                    req = req.header("x-forwarded-for", &ips[i % keys]);
                }
                let req = req.extension(peer).body(Body::empty()).unwrap();
                let res = svc.call(req).await.unwrap();
                assert_eq!(res.status(), 200);
            }
        });
        let ns = start.elapsed().as_nanos() as f64 / n as f64;
        // CPU time, unlike wall time, does not count the slices another process
        // took from this core.
        let cpu_ns = (cpu_ticks() - cpu0) as f64 * 1e7 / n as f64;
        println!("{keys} keys, {mode}: {ns:.0} ns per request ({cpu_ns:.0} ns of CPU)");
    }
}

/// This thread's user and system time so far, in 10 ms ticks.
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are the 14th and 15th fields; 12th and 13th after the name.
    fields
        .get(11)
        .and_then(|u| u.parse::<u64>().ok())
        .unwrap_or(0)
        + fields
            .get(12)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
}

/// The limiters alone, keyed by client address as the layers key them.
fn limiters_alone(keys: usize) {
    use ratecell::http::Key;
    use std::net::IpAddr;
    let ips: Vec<IpAddr> = (0..keys as u32)
        .map(|x| IpAddr::from([10, (x >> 16) as u8, (x >> 8) as u8, x as u8]))
        .collect();
    let n = 4_000_000;
    let lim = Limiter::builder(Quota::per_hour(4_000_000_000).unwrap())
        .capacity(1 << 18)
        .build()
        .unwrap();
    let start = std::time::Instant::now();
    let mut admitted = 0u32;
    for i in 0..n {
        admitted += u32::from(lim.check(&Key::Ip(ips[i % keys])).is_allowed());
    }
    let ours = start.elapsed().as_nanos() as f64 / n as f64;
    let gov = governor::RateLimiter::<IpAddr, _, _>::dashmap(governor::Quota::per_second(
        std::num::NonZeroU32::new(1_000_000_000).unwrap(),
    ));
    let start = std::time::Instant::now();
    for i in 0..n {
        admitted += u32::from(gov.check_key(&ips[i % keys]).is_ok());
    }
    let theirs = start.elapsed().as_nanos() as f64 / n as f64;
    println!(
        "{keys} keys, limiter alone: ratecell {ours:.0} ns, governor {theirs:.0} ns ({admitted})"
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "none".into());
    if mode == "in-process" {
        // Optional: one mode, then one key count (1 or 100000), for profiling.
        let only = args.next();
        let keys: Option<usize> = args.next().and_then(|k| k.parse().ok());
        for k in [1, 100_000] {
            if keys.is_none_or(|only| only == k) {
                in_process(k, only.as_deref());
            }
        }
        if only.is_none() {
            limiters_alone(1);
            limiters_alone(100_000);
        }
        return;
    }
    let addr: SocketAddr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:8080".into())
        .parse()
        .expect("ADDR");
    let app = app(&mode);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        println!("listening on {} ({mode})", listener.local_addr().unwrap());
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
}
