//! A server of the test's own, stopped and started again mid-run: checks answer per
//! policy while it is away (never hanging, never panicking), count it, and limiting
//! resumes by itself when it is back.

use super::server;
use crate::redis::{FailurePolicy, RedisLimiter};
use crate::Quota;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(port: u16) -> Server {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be on PATH for the Redis tests");
        Server { child, port }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    async fn wait_up(&self) {
        let url = std::format!("redis://127.0.0.1:{}", self.port);
        for _ in 0..300 {
            if let Ok(client) = redis::Client::open(url.as_str()) {
                if let Ok(Ok(mut c)) = tokio::time::timeout(
                    Duration::from_millis(500),
                    client.get_multiplexed_async_connection(),
                )
                .await
                {
                    if redis::cmd("PING")
                        .query_async::<String>(&mut c)
                        .await
                        .is_ok()
                    {
                        return;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server on port {} did not start", self.port);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

use std::string::{String, ToString};

async fn check(lim: &RedisLimiter, key: &str) -> crate::Decision {
    tokio::time::timeout(NO_HANG, lim.check(key))
        .await
        .expect("a check hung")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// No call takes longer than this, whatever the server does (far above the
/// limiter's own timeout: a bound on hanging, not a measurement).
const NO_HANG: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_fails_open_or_closed_and_recovers() {
    // Runs where the Redis tests run: with a server configured, or one answering.
    if server().await.is_none() && std::env::var(super::URL_VAR).is_err() {
        return;
    }
    let port = free_port();
    let mut srv = Server::start(port);
    srv.wait_up().await;
    let addr = std::format!("redis://127.0.0.1:{port}");
    let quota = Quota::per_hour(3).unwrap();
    let build = |policy| {
        RedisLimiter::builder(quota)
            .prefix("restart:")
            .timeout(Duration::from_millis(200))
            .on_failure(policy)
            .deny_cache(0)
            .connect(&addr)
    };
    let open = build(FailurePolicy::Open).await.unwrap();
    let closed = build(FailurePolicy::Closed).await.unwrap();

    // Up: both limit.
    for _ in 0..3 {
        assert!(check(&open, "o").await.is_allowed());
        assert!(check(&closed, "c").await.is_allowed());
    }
    assert!(!check(&open, "o").await.is_allowed());
    assert!(!check(&closed, "c").await.is_allowed());
    assert_eq!(open.stats().outages, 0);

    // Down: open admits, closed denies, every time, counted; one outage each.
    srv.stop();
    // Long enough for the connection's own reconnection attempts to run out.
    for _ in 0..5 {
        assert!(check(&open, "o").await.is_allowed());
        let d = check(&closed, "c").await;
        assert!(!d.is_allowed());
        assert_eq!(d.retry_after(), Some(Duration::from_secs(1)));
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    assert!(open.is_unavailable() && closed.is_unavailable());
    assert_eq!(open.stats().failed_open, 5);
    assert_eq!(closed.stats().failed_closed, 5);
    assert_eq!((open.stats().outages, closed.stats().outages), (1, 1));
    let reset = tokio::time::timeout(NO_HANG, open.reset("o")).await;
    assert!(reset.expect("a reset hung").is_err());

    // Back (empty: no persistence, no scripts loaded): limiting resumes by itself.
    let mut srv = Server::start(port);
    srv.wait_up().await;
    let mut recovered = false;
    for _ in 0..200 {
        let before = open.stats().failed_open;
        let d = check(&open, "o2").await;
        if open.stats().failed_open == before {
            assert!(d.is_allowed(), "a fresh key's first check");
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(recovered, "the limiter never reached the restarted server");
    assert!(!open.is_unavailable());
    assert!(check(&open, "o2").await.is_allowed());
    assert!(check(&open, "o2").await.is_allowed());
    assert!(!check(&open, "o2").await.is_allowed());
    assert_eq!(open.stats().outages, 1);
    // The closed limiter recovers too.
    let mut closed_back = false;
    for _ in 0..200 {
        let before = closed.stats().failed_closed;
        let d = check(&closed, "c2").await;
        if closed.stats().failed_closed == before {
            assert!(d.is_allowed());
            closed_back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(closed_back);
    srv.stop();
}

/// A limiter whose server never existed answers per policy at once and never panics.
#[tokio::test]
async fn redis_unreachable_from_the_start_answers_per_policy() {
    let port = free_port();
    let lim = RedisLimiter::builder(Quota::per_second(1).unwrap())
        .timeout(Duration::from_millis(100))
        .on_failure(FailurePolicy::Closed)
        .connect(&std::format!("redis://127.0.0.1:{port}"))
        .await
        .unwrap();
    for _ in 0..3 {
        let d = tokio::time::timeout(NO_HANG, lim.check("k")).await.unwrap();
        assert!(!d.is_allowed());
    }
    assert_eq!(lim.stats().failed_closed, 3);
    assert_eq!(lim.stats().outages, 1);
}
