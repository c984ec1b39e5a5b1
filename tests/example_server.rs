//! The example server itself (`examples/server.rs`), driven as DESIGN §7 says:
//! started on 127.0.0.1:0, exhausted, stopped with SIGTERM, restarted from its
//! snapshot and still limited; bad command lines exit 2.

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
        (&["--redis", "redis://127.0.0.1/"][..], "--redis"),
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
