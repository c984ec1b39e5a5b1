//! The example server itself (`examples/server.rs`), driven as DESIGN §7 says:
//! started on 127.0.0.1:0, exhausted, stopped with SIGTERM, restarted from its
//! snapshot and still limited; limited as a `--config` file says; bad command
//! lines and bad configuration files exit 2. With `--redis`, two
//! servers share one limit, and a Redis outage neither hangs nor stops a server
//! (the Redis tests need `RATECELL_REDIS_URL`, default `redis://127.0.0.1:6379`,
//! and `redis-server` on the path; a server that does not answer fails them).

#![cfg(all(unix, not(loom)))]

mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::get;

/// The example's binary, brought up to date once (`cargo test --test
/// example_server` alone does not build examples).
fn server_binary() -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let mut cargo = Command::new(env!("CARGO"));
        cargo.args(["build", "--quiet", "--example", "server"]);
        // Same profile as this test, so the binary lands where it is looked for.
        if !cfg!(debug_assertions) {
            cargo.arg("--release");
        }
        let status = cargo
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success(), "cannot build the example server");
    });
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    profile_dir.join("examples").join("server")
}

struct Server {
    child: Child,
    addr: SocketAddr,
}

fn start(args: &[&str]) -> Server {
    let mut child = Command::new(server_binary())
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .unwrap();
        if let Some(addr) = line.strip_prefix("listening on ") {
            break addr.parse().unwrap();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Server { child, addr }
}

impl Server {
    fn terminate(mut self) -> i32 {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        for _ in 0..100 {
            if let Some(code) = self.child.try_wait().unwrap() {
                return code.code().unwrap_or(-1);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("the server did not exit within 5 s of SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn snapshot_survives_sigterm_and_restart() {
    let dir = std::env::temp_dir().join(format!("ratecell-server-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let snap = dir.join("limits.snap");
    let snap_arg = snap.to_str().unwrap();
    let args = [
        "--quota",
        "3/min",
        "--quota",
        "100/hour",
        "--snapshot",
        snap_arg,
    ];

    let server = start(&args);
    for _ in 0..3 {
        assert_eq!(get(server.addr, "/", &[]).await.status, 200);
    }
    let r = get(server.addr, "/", &[]).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.field("retry-after"), "20");
    assert_eq!(get(server.addr, "/health", &[]).await.status, 200);
    assert_eq!(server.terminate(), 0);
    assert!(snap.exists());
    assert!(dir.join("limits.snap.2").exists());

    let server = start(&args);
    let r = get(server.addr, "/", &[]).await;
    assert_eq!(r.status, 429, "the restored snapshot still limits");
    assert_eq!(
        r.field("ratelimit-policy"),
        "\"3/min\";q=3;w=60, \"100/hour\";q=100;w=3600"
    );
    assert_eq!(server.terminate(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_periodic_save_survives_a_kill() {
    let snap = std::env::temp_dir().join(format!("ratecell-periodic-{}", std::process::id()));
    let _ = std::fs::remove_file(&snap);
    let args = ["--quota", "3/min", "--snapshot", snap.to_str().unwrap()];
    let mut server = start(&args);
    for _ in 0..3 {
        assert_eq!(get(server.addr, "/", &[]).await.status, 200);
    }
    // The server saves every 10 s; SIGKILL leaves it no chance of a final save.
    tokio::time::sleep(Duration::from_millis(11_500)).await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    assert!(snap.exists(), "no periodic save within 11.5 s");
    let server = start(&args);
    assert_eq!(get(server.addr, "/", &[]).await.status, 429);
    assert_eq!(server.terminate(), 0);
    let _ = std::fs::remove_file(&snap);
}

#[tokio::test]
async fn batch_costs_and_answers() {
    let server = start(&["--quota", "5/min"]);
    let r = get(server.addr, "/batch?cost=4", &[]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "batch of 4\n"));
    assert_eq!(get(server.addr, "/batch?cost=2", &[]).await.status, 429);
    let r = get(server.addr, "/", &[]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "hello\n"));
    assert_eq!(server.terminate(), 0);
}

fn run_to_end(args: &[&str]) -> (i32, String) {
    let out = Command::new(server_binary())
        .args(args)
        .stdout(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_command_lines_exit_2_naming_the_flag() {
    for (args, names) in [
        (&["--bogus"][..], "--bogus"),
        (&["--quota"][..], "--quota"),
        (&["--quota", "five per fortnight"][..], "--quota"),
        (&["--algorithm", "random"][..], "--algorithm"),
        (&["--trust-proxy", "10.0.0.0/99"][..], "--trust-proxy"),
        (&["--listen", "localhost"][..], "--listen"),
        (&["--redis", "not a url"][..], "--redis"),
        (
            &["--redis", "redis://127.0.0.1/", "--snapshot", "x"][..],
            "--snapshot",
        ),
    ] {
        let (code, err) = run_to_end(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(names), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn a_corrupt_snapshot_is_an_error() {
    let path = std::env::temp_dir().join(format!("ratecell-corrupt-{}", std::process::id()));
    std::fs::write(&path, b"not a snapshot").unwrap();
    let (code, err) = run_to_end(&[
        "--listen",
        "127.0.0.1:0",
        "--snapshot",
        path.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--snapshot"), "{err}");
}

fn redis_url() -> String {
    std::env::var("RATECELL_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Far above the server's Redis timeout: a bound on hanging, not a measurement.
const NO_HANG: Duration = Duration::from_secs(20);

async fn get_soon(addr: SocketAddr, path: &str) -> support::Reply {
    tokio::time::timeout(NO_HANG, get(addr, path, &[]))
        .await
        .expect("the server did not answer")
}

#[tokio::test]
async fn two_servers_share_one_redis_limit() {
    use ratecell::redis::{Raw, RedisLimiter};
    let url = redis_url();
    // The servers' state for the loopback client under `--quota 5/minute`; cleared
    // first, so an earlier run within the minute does not count.
    let lim = RedisLimiter::builder("5/minute".parse().unwrap())
        .prefix("ratecell:server:token-bucket:5/minute:")
        .timeout(Duration::from_secs(5))
        .connect(&url)
        .await
        .unwrap();
    let client = Raw(b"ip:127.0.0.1");
    if let Err(e) = lim.reset(&client).await {
        panic!("RATECELL_REDIS_URL={url} does not answer: {e}");
    }
    let args = ["--redis", &url, "--quota", "5/minute"];
    let (a, b) = (start(&args), start(&args));
    for (server, n) in [(&a, 3), (&b, 2)] {
        for _ in 0..n {
            let r = get_soon(server.addr, "/").await;
            assert_eq!((r.status, r.body.as_str()), (200, "hello\n"));
            assert_eq!(r.field("ratelimit-policy"), "\"5/minute\";q=5;w=60");
        }
    }
    for server in [&a, &b, &a] {
        let r = get_soon(server.addr, "/").await;
        assert_eq!(r.status, 429);
        assert_eq!(r.field("content-type"), "application/problem+json");
    }
    assert_eq!(get_soon(b.addr, "/health").await.status, 200);
    assert_eq!(a.terminate(), 0);
    assert_eq!(b.terminate(), 0);
    lim.reset(&client).await.unwrap();
}

/// A `redis-server` of the test's own on a free loopback port.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start(port: u16) -> Redis {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be on PATH for the Redis tests");
        let redis = Redis { child, port };
        redis.wait_up();
        redis
    }

    /// Until the server answers PING (a bounded wait).
    fn wait_up(&self) {
        use std::io::{Read, Write};
        for _ in 0..200 {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
                let mut buf = [0u8; 7];
                if s.write_all(b"PING\r\n").is_ok()
                    && s.read_exact(&mut buf).is_ok()
                    && &buf == b"+PONG\r\n"
                {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server on port {} did not start", self.port);
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A file in the temporary directory, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> Self {
        let path = std::env::temp_dir().join(format!("ratecell-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        Self(path)
    }

    fn arg(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[tokio::test]
async fn a_redis_outage_neither_hangs_nor_stops_the_server() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut redis = Redis::start(port);
    let url = format!("redis://127.0.0.1:{port}");
    let mut server = start(&["--redis", &url, "--quota", "3/minute"]);
    let r = get_soon(server.addr, "/").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.field("ratelimit"), "\"3/minute\";r=2;t=20");

    // Away: every request is answered (fail open: admitted, without a quota field)
    // and the server stays up.
    redis.stop();
    for _ in 0..5 {
        let r = get_soon(server.addr, "/").await;
        assert_eq!((r.status, r.body.as_str()), (200, "hello\n"));
        assert!(r.headers.get("ratelimit").is_none());
        assert_eq!(r.field("ratelimit-policy"), "\"3/minute\";q=3;w=60");
        assert!(
            server.child.try_wait().unwrap().is_none(),
            "the server exited"
        );
    }

    // Back (empty): limiting resumes by itself, so the quota runs out again.
    let _redis = Redis::start(port);
    let mut limited = false;
    for _ in 0..200 {
        if get_soon(server.addr, "/").await.status == 429 {
            limited = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(limited, "no 429 within 200 requests after Redis came back");
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server exited"
    );
    assert_eq!(server.terminate(), 0);
}

#[tokio::test]
async fn a_config_file_sets_the_stacked_limit() {
    let file = TempFile::new(
        "stack.toml",
        "quota = \"3/min; 2/hour\"\nalgorithm = \"token-bucket\"\ncapacity = 1000\n",
    );
    let server = start(&["--config", file.arg()]);
    let policy = "\"config-0\";q=3;w=60, \"config-1\";q=2;w=3600";
    let r = get(server.addr, "/", &[]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "hello\n"));
    assert_eq!(r.field("ratelimit-policy"), policy);
    // The hourly quota has the fewest left: it decides.
    assert_eq!(r.field("ratelimit"), "\"config-1\";r=1;t=1800");
    let r = get(server.addr, "/", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.field("ratelimit"), "\"config-1\";r=0;t=3600");
    for _ in 0..3 {
        let r = get(server.addr, "/", &[]).await;
        assert_eq!(r.status, 429);
        assert_eq!(r.field("ratelimit-policy"), policy);
        assert_eq!(r.field("ratelimit"), "\"config-1\";r=0;t=3600");
        assert_eq!(r.field("retry-after"), "1800");
        assert!(r.body.contains("\"violated-policies\":[\"config-1\"]"));
    }
    assert_eq!(get(server.addr, "/health", &[]).await.status, 200);
    assert_eq!(server.terminate(), 0);

    // One quota: a policy named "config", with the file's algorithm.
    let file = TempFile::new(
        "one.toml",
        "quota = \"2/min\"\nalgorithm = \"sliding-window-log\"\n",
    );
    let server = start(&["--config", file.arg()]);
    for _ in 0..2 {
        assert_eq!(get(server.addr, "/", &[]).await.status, 200);
    }
    let r = get(server.addr, "/", &[]).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.field("ratelimit-policy"), "\"config\";q=2;w=60");
    assert_eq!(server.terminate(), 0);
}

#[test]
fn bad_config_files_exit_2_naming_the_file_and_the_field() {
    let missing = std::env::temp_dir().join("ratecell-no-such-config.toml");
    let (code, err) = run_to_end(&["--config", missing.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("ratecell-no-such-config.toml"), "{err}");
    for (text, field) in [
        ("quota = \"10/fortnight\"\n", "quota"),
        ("quota = \"10/s\"\nalgorithm = \"random\"\n", "algorithm"),
        ("quota = \"10/s\"\ncapacity = -1\n", "capacity"),
        ("quotas = \"10/s\"\n", "quotas"),
        ("quota = \"10/s\"\n[tiers]\npaid = \"100/s\"\n", "tiers"),
        ("quota = [", "quota"),
        ("quota = \"10/s\"\ncapacity = 0\n", "capacity"),
    ] {
        let file = TempFile::new("bad.toml", text);
        let (code, err) = run_to_end(&["--listen", "127.0.0.1:0", "--config", file.arg()]);
        assert_eq!(code, 2, "{text:?}: {err}");
        assert!(err.contains(file.arg()), "{text:?}: {err}");
        assert!(err.contains(field), "{text:?}: {err}");
        assert!(!err.contains("panicked"), "{text:?}: {err}");
    }
    let file = TempFile::new("good.toml", "quota = \"10/s\"\n");
    for flag in [["--quota", "5/min"], ["--algorithm", "fixed-window"]] {
        let (code, err) = run_to_end(&[flag[0], flag[1], "--config", file.arg()]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("--config") && err.contains(flag[0]), "{err}");
    }
}
