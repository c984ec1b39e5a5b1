//! An axum server behind ratecell's layer: the reference user of `ratecell::http`.
//!
//! ```text
//! cargo run --release --example server -- [--listen 127.0.0.1:3000]
//!     [--quota "5/10s"]...        repeatable: stacked policies, all must admit
//!     [--algorithm token-bucket|leaky-bucket|fixed-window|sliding-window-log|sliding-window-counter]
//!     [--trust-proxy CIDR]...     default: none (peer address only)
//!     [--snapshot PATH]           restore at start; save on SIGINT/SIGTERM and every 10 s
//!     [--redis URL]               share the limits through Redis
//!     [--config FILE]             the limit from a TOML file, instead of --quota/--algorithm
//! routes: GET /               limited, cost 1, answers "hello"
//!         GET /batch?cost=N   limited, cost N
//!         GET /health         exempt
//! ```
//!
//! With several `--quota`, the first policy's snapshot is `PATH`, the second's
//! `PATH.2`, the third's `PATH.3`, and so on. A missing snapshot file is an empty
//! start; an unreadable or mismatched one (another quota, algorithm or capacity)
//! is an error. A bad flag is an error naming it, with exit code 2.
//!
//! With `--redis URL` every `--quota` policy lives in Redis, keyed by the same
//! client address, under the prefix `ratecell:server:ALGORITHM:QUOTA:` (`QUOTA` as
//! given, with its position if repeated), so servers started with the same URL, quotas and algorithm share
//! one limit per client. A Redis call waits at most 500 ms; when Redis does not
//! answer, requests are admitted (fail open: an outage of the limiter is not an
//! outage of the service) and limiting resumes by itself when it is back.
//! `--snapshot` with `--redis` is an error: the states live in Redis.
//!
//! `--config FILE` reads one limiter's settings ([`LimiterConfig`]: `quota`, one
//! or stacked, `algorithm`, `capacity`, `full_policy`; see `examples/server.toml`)
//! and excludes `--quota` and `--algorithm` (both given is an error). The policy
//! is named `config`; a stack's quotas `config-0`, `config-1`... With
//! `--snapshot`, a stack's quotas are saved as `PATH`, `PATH.2`... as repeated
//! `--quota`s are. `tiers` are refused: this server keys requests by client
//! address and has no plans. A missing, unparsable or invalid file is an error
//! naming the file and the field, with exit code 2. `--config` with `--redis`
//! is an error: the Redis policies come from `--quota` and `--algorithm`.

use axum::extract::Query;
use axum::routing::get;
use axum::Router;
use ratecell::config::LimiterConfig;
use ratecell::http::{IpNet, Policy, RateLimitLayer};
use ratecell::redis::{FailurePolicy, RedisLimiter};
use ratecell::{Algorithm, Limiter, Quota, SnapshotError, StackedLimiter};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

const USAGE: &str = "usage: server [--listen ADDR] [--quota QUOTA]... [--algorithm NAME] \
[--trust-proxy CIDR]... [--snapshot PATH] [--redis URL] [--config FILE]";

struct Args {
    listen: SocketAddr,
    quotas: Vec<(String, Quota)>,
    algorithm: Algorithm,
    trusted: Vec<IpNet>,
    snapshot: Option<PathBuf>,
    redis: Option<String>,
    config: Option<(PathBuf, LimiterConfig)>,
}

/// A command-line mistake: the message names the flag.
struct Usage(String);

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Option<Args>, Usage> {
    let mut args = Args {
        listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
        quotas: Vec::new(),
        algorithm: Algorithm::TokenBucket,
        trusted: Vec::new(),
        snapshot: None,
        redis: None,
        config: None,
    };
    let mut algorithm_given = false;
    while let Some(arg) = argv.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if flag == "--help" || flag == "-h" {
            return Ok(None);
        }
        let known = [
            "--listen",
            "--quota",
            "--algorithm",
            "--trust-proxy",
            "--snapshot",
            "--redis",
            "--config",
        ];
        if !known.contains(&flag.as_str()) {
            return Err(Usage(format!("unknown argument {arg:?}")));
        }
        let value = match inline.or_else(|| argv.next()) {
            Some(v) => v,
            None => return Err(Usage(format!("{flag} needs a value"))),
        };
        let bad = |why: String| Usage(format!("{flag} {value:?}: {why}"));
        match flag.as_str() {
            "--listen" => args.listen = value.parse().map_err(|e| bad(format!("{e}")))?,
            "--quota" => {
                let q = value.parse().map_err(|e| bad(format!("{e}")))?;
                args.quotas.push((value.clone(), q));
            }
            "--algorithm" => {
                algorithm_given = true;
                args.algorithm = algorithm(&value).ok_or_else(|| {
                    bad("expected token-bucket, leaky-bucket, fixed-window, \
                     sliding-window-log or sliding-window-counter"
                        .into())
                })?
            }
            "--trust-proxy" => {
                // A bare address trusts just that host.
                let net = value
                    .parse::<IpNet>()
                    .or_else(|_| value.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|e| bad(format!("not a CIDR: {e}")))?;
                args.trusted.push(net);
            }
            "--snapshot" => args.snapshot = Some(PathBuf::from(&value)),
            "--config" => args.config = Some(read_config(&value)?),
            _ => args.redis = Some(value),
        }
    }
    if args.redis.is_some() && args.snapshot.is_some() {
        return Err(Usage(
            "--snapshot cannot be used with --redis: the limits live in Redis".into(),
        ));
    }
    if args.redis.is_some() && args.config.is_some() {
        return Err(Usage(
            "--config cannot be used with --redis: give the Redis limits with --quota".into(),
        ));
    }
    if args.config.is_some() && (algorithm_given || !args.quotas.is_empty()) {
        return Err(Usage(
            "--config states the quota and the algorithm: drop --quota and --algorithm".into(),
        ));
    }
    if args.quotas.is_empty() && args.config.is_none() {
        let q = "5/10s".parse().map_err(|e| Usage(format!("{e}")))?;
        args.quotas.push(("5/10s".into(), q));
    }
    Ok(Some(args))
}

/// The algorithms by their command-line names.
const ALGORITHMS: [(&str, Algorithm); 5] = [
    ("token-bucket", Algorithm::TokenBucket),
    ("leaky-bucket", Algorithm::LeakyBucket),
    ("fixed-window", Algorithm::FixedWindow),
    ("sliding-window-log", Algorithm::SlidingWindowLog),
    ("sliding-window-counter", Algorithm::SlidingWindowCounter),
];

/// Reads `--config FILE`: every error names the file (and the field, from toml).
fn read_config(path: &str) -> Result<(PathBuf, LimiterConfig), Usage> {
    let bad = |why: String| Usage(format!("--config {path}: {why}"));
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let config: LimiterConfig = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
    if !config.tiers.is_empty() {
        return Err(bad(
            "tiers: this server keys requests by client address and has no plans".into(),
        ));
    }
    Ok((PathBuf::from(path), config))
}

fn algorithm(name: &str) -> Option<Algorithm> {
    ALGORITHMS.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
}

/// The snapshot file of the `i`-th policy (from 0): `PATH`, `PATH.2`, `PATH.3`...
fn snapshot_path(base: &std::path::Path, i: usize) -> PathBuf {
    if i == 0 {
        return base.to_path_buf();
    }
    let mut name = base.as_os_str().to_owned();
    name.push(format!(".{}", i + 1));
    PathBuf::from(name)
}

/// The limiters the snapshot files hold, in order: one per `--quota`, or the
/// quotas of a stacked `--config`.
#[derive(Clone)]
enum Limiters {
    Each(Arc<Vec<Arc<Limiter>>>),
    Stack(Arc<StackedLimiter>),
}

impl Limiters {
    fn each(&self) -> Vec<&Limiter> {
        match self {
            Self::Each(v) => v.iter().map(|l| &**l).collect(),
            Self::Stack(s) => (0..s.quotas().len()).filter_map(|i| s.limiter(i)).collect(),
        }
    }
}

/// Restores `lim` from `path`; a missing file is an empty start.
fn restore(lim: &Limiter, path: &std::path::Path) -> Result<(), String> {
    match lim.restore_from(path) {
        Ok(_) => println!("restored {}", path.display()),
        Err(SnapshotError::Io {
            kind: std::io::ErrorKind::NotFound,
            ..
        }) => {}
        Err(e) => return Err(format!("--snapshot: {e}")),
    }
    Ok(())
}

/// The layer and limiters a `--config` file states.
fn from_config(args: &Args) -> Result<Option<(RateLimitLayer, Limiters)>, String> {
    let Some((path, config)) = &args.config else {
        return Ok(None);
    };
    let bad = |e: ratecell::BuildError| format!("--config {}: {e}", path.display());
    if config.quota.0.len() == 1 {
        let lim = Arc::new(config.builder().and_then(|b| b.build()).map_err(bad)?);
        if let Some(base) = &args.snapshot {
            restore(&lim, &snapshot_path(base, 0))?;
        }
        let layer = RateLimitLayer::new(Policy::keyed("config", lim.clone()));
        return Ok(Some((layer, Limiters::Each(Arc::new(vec![lim])))));
    }
    let stack = Arc::new(
        config
            .stacked_builder()
            .and_then(|b| b.build())
            .map_err(bad)?,
    );
    let limiters = Limiters::Stack(stack.clone());
    if let Some(base) = &args.snapshot {
        for (i, lim) in limiters.each().into_iter().enumerate() {
            restore(lim, &snapshot_path(base, i))?;
        }
    }
    let layer = RateLimitLayer::new(Policy::stacked("config", stack));
    Ok(Some((layer, limiters)))
}

fn save(limiters: &Limiters, base: &std::path::Path) -> Result<(), String> {
    for (i, lim) in limiters.each().into_iter().enumerate() {
        lim.snapshot_to(snapshot_path(base, i))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(Usage(msg)) => {
            eprintln!("error: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(args))
}

async fn serve(args: Args) -> ExitCode {
    let configured = match from_config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut limiters = Vec::new();
    let mut layer: Option<RateLimitLayer> = None;
    for (i, (text, quota)) in args.quotas.iter().enumerate() {
        if let Some(url) = &args.redis {
            let policy = match redis_policy(url, &args, i, text, *quota).await {
                Ok(p) => p,
                Err(msg) => {
                    eprintln!("error: {msg}");
                    return ExitCode::from(2);
                }
            };
            layer = Some(match layer {
                None => RateLimitLayer::new(policy),
                Some(l) => l.policy(policy),
            });
            continue;
        }
        let lim = match Limiter::builder(*quota).algorithm(args.algorithm).build() {
            Ok(lim) => Arc::new(lim),
            Err(e) => {
                eprintln!("error: --quota {text:?} with --algorithm: {e}");
                return ExitCode::from(2);
            }
        };
        if let Some(base) = &args.snapshot {
            if let Err(msg) = restore(&lim, &snapshot_path(base, i)) {
                eprintln!("error: {msg}");
                return ExitCode::from(2);
            }
        }
        // Policies are named by their quota; a repeated quota gets its position.
        let mut policy = Policy::keyed(text, lim.clone());
        if layer
            .iter()
            .flat_map(|l| l.policies())
            .any(|p| p.name() == policy.name())
        {
            policy = Policy::keyed(&format!("{text}-{}", i + 1), lim.clone());
        }
        layer = Some(match layer {
            None => RateLimitLayer::new(policy),
            Some(l) => l.policy(policy),
        });
        limiters.push(lim);
    }
    let (layer, limiters) = match (configured, layer) {
        (Some(configured), _) => configured,
        (None, Some(layer)) => (layer, Limiters::Each(Arc::new(limiters))),
        (None, None) => return ExitCode::from(2),
    };
    let layer = layer
        .trust_proxies(args.trusted.iter().copied())
        .exempt_path("/health")
        .cost(|parts| {
            if parts.uri.path() != "/batch" {
                return 1;
            }
            // An absent or unparsable cost counts as 1.
            parts
                .uri
                .query()
                .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("cost=")))
                .and_then(|n| n.parse().ok())
                .unwrap_or(1)
        });
    let app = Router::new()
        .route("/", get(|| async { "hello\n" }))
        .route(
            "/batch",
            get(
                |Query(q): Query<std::collections::HashMap<String, String>>| async move {
                    format!("batch of {}\n", q.get("cost").map_or("1", String::as_str))
                },
            ),
        )
        .route("/health", get(|| async { "ok\n" }))
        .layer(layer);

    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: --listen {}: {e}", args.listen);
            return ExitCode::from(2);
        }
    };
    let bound = listener.local_addr().unwrap_or(args.listen);
    println!("listening on {bound}");
    let _ = std::io::stdout().flush();

    if let Some(base) = args.snapshot.clone() {
        let (limiters, base) = (limiters.clone(), base.clone());
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(10));
            every.tick().await;
            loop {
                every.tick().await;
                let (l, b) = (limiters.clone(), base.clone());
                match tokio::task::spawn_blocking(move || save(&l, &b)).await {
                    Ok(Err(e)) => eprintln!("warning: periodic save failed: {e}"),
                    Err(e) => eprintln!("warning: periodic save failed: {e}"),
                    Ok(Ok(())) => {}
                }
            }
        });
    }

    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    );
    tokio::select! {
        res = server => {
            if let Err(e) = res {
                eprintln!("error: server failed: {e}");
                return ExitCode::FAILURE;
            }
        }
        () = shutdown_signal() => {}
    }
    if let Some(base) = &args.snapshot {
        if let Err(e) = save(&limiters, base) {
            eprintln!("error: final save failed: {e}");
            return ExitCode::FAILURE;
        }
        println!("saved {}", base.display());
    }
    ExitCode::SUCCESS
}

/// The `i`-th `--quota` as a policy in Redis, named as the local one would be.
async fn redis_policy(
    url: &str,
    args: &Args,
    i: usize,
    text: &str,
    quota: Quota,
) -> Result<Policy, String> {
    // A repeated quota gets its position, as for the local policies.
    let repeated = args.quotas[..i].iter().any(|(t, _)| t == text);
    let name = if repeated {
        format!("{text}-{}", i + 1)
    } else {
        text.to_string()
    };
    let algorithm = ALGORITHMS
        .iter()
        .find(|(_, a)| *a == args.algorithm)
        .map_or("token-bucket", |(n, _)| n);
    let lim = RedisLimiter::builder(quota)
        .algorithm(args.algorithm)
        .prefix(format!("ratecell:server:{algorithm}:{name}:"))
        .timeout(Duration::from_millis(500))
        .on_failure(FailurePolicy::Open)
        .connect(url)
        .await
        .map_err(|e| format!("--redis {url:?} with --quota {text:?}: {e}"))?;
    Ok(Policy::redis(&name, lim))
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
