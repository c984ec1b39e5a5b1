//! Tests against a real `redis-server`: the URL in `RATECELL_REDIS_URL` (default
//! `redis://127.0.0.1:6379`). A set URL that does not answer fails the test; an
//! unset one that does not answer skips it with a note (a developer's machine
//! without Redis), while CI always sets it.

mod conformance;
mod deny_cache;
mod failures;
mod num;
mod realtime;

use crate::redis::RedisLimiter;
use crate::{Algorithm, Quota};
use redis::aio::ConnectionManager;
use std::string::String;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub(super) const URL_VAR: &str = "RATECELL_REDIS_URL";

pub(super) fn url() -> (String, bool) {
    match std::env::var(URL_VAR) {
        Ok(u) => (u, true),
        Err(_) => (String::from("redis://127.0.0.1:6379"), false),
    }
}

/// A connection to the test server, or `None` (skip) when no URL was set and the
/// default does not answer; panics when a set URL does not answer.
pub(super) async fn server() -> Option<ConnectionManager> {
    let (url, set) = url();
    let attempt = async {
        let client = redis::Client::open(url.as_str())?;
        let mut conn = ConnectionManager::new(client).await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await?;
        Ok::<_, redis::RedisError>(conn)
    };
    match tokio::time::timeout(Duration::from_secs(5), attempt).await {
        Ok(Ok(conn)) => Some(conn),
        Ok(Err(e)) if set => panic!("{URL_VAR}={url} does not answer: {e}"),
        Err(_) if set => panic!("{URL_VAR}={url} does not answer in 5 s"),
        _ => {
            std::eprintln!("skipped: no redis at {url} (set {URL_VAR} to require one)");
            None
        }
    }
}

/// A prefix no other test (or earlier run) uses.
pub(super) fn fresh_prefix(name: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    // Relaxed: a unique number is all that is asked.
    let n = N.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    std::format!("ratecell-test:{name}:{}:{t}:{n}:", std::process::id())
}

/// Deletes every key under `prefix`.
pub(super) async fn clean(conn: &mut ConnectionManager, prefix: &str) {
    let keys: std::vec::Vec<std::vec::Vec<u8>> = redis::cmd("KEYS")
        .arg(std::format!("{prefix}*"))
        .query_async(conn)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: i64 = redis::cmd("DEL").arg(keys).query_async(conn).await.unwrap();
    }
}

pub(super) fn limiter(
    conn: &ConnectionManager,
    quota: Quota,
    algorithm: Algorithm,
    prefix: &str,
) -> RedisLimiter {
    RedisLimiter::builder(quota)
        .algorithm(algorithm)
        .prefix(prefix)
        .timeout(Duration::from_secs(5))
        .deny_cache(0)
        .build_with(conn.clone())
        .unwrap()
}

/// Both are shared across tasks and threads.
#[test]
fn redis_types_are_send_and_sync() {
    fn shared<T: Send + Sync>() {}
    shared::<RedisLimiter>();
    shared::<crate::redis::RedisStore>();
}
