//! One behavioural suite of the seven-operation store contract, run against
//! `MemoryStore` (time on a `ManualClock`) and `RedisStore` (a real server, time
//! passing for real): the same operations, the same answers.
//!
//! The Redis runs need `RATECELL_REDIS_URL` (default `redis://127.0.0.1:6379`); a
//! set URL that does not answer fails them, an unset one skips them.

#![cfg(all(feature = "redis", not(loom)))]

use ratecell::redis::RedisStore;
use ratecell::store::{Backend, BackendError, MemoryStore};
use ratecell::ManualClock;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The contract, as the suite drives it.
trait Store: Send + Sync + 'static {
    fn get(&self, k: &str) -> impl Future<Output = Result<Option<u64>, BackendError>> + Send;
    async fn set(&self, k: &str, v: u64, ttl: Option<Duration>) -> Result<(), BackendError>;
    async fn delete(&self, k: &str) -> Result<bool, BackendError>;
    async fn exists(&self, k: &str) -> Result<bool, BackendError>;
    fn increment(
        &self,
        k: &str,
        by: u64,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<u64, BackendError>> + Send;
    async fn clear(&self) -> Result<(), BackendError>;
    async fn close(&self) -> Result<(), BackendError>;
    /// Lets `d` pass (a manual clock moves; a real one is waited for).
    async fn pass(&self, d: Duration);
}

struct Memory(MemoryStore<ManualClock>, ManualClock);

impl Store for Memory {
    async fn get(&self, k: &str) -> Result<Option<u64>, BackendError> {
        self.0.get(k)
    }
    async fn set(&self, k: &str, v: u64, ttl: Option<Duration>) -> Result<(), BackendError> {
        self.0.set(k, v, ttl)
    }
    async fn delete(&self, k: &str) -> Result<bool, BackendError> {
        self.0.delete(k)
    }
    async fn exists(&self, k: &str) -> Result<bool, BackendError> {
        self.0.exists(k)
    }
    async fn increment(
        &self,
        k: &str,
        by: u64,
        ttl: Option<Duration>,
    ) -> Result<u64, BackendError> {
        self.0.increment(k, by, ttl)
    }
    async fn clear(&self) -> Result<(), BackendError> {
        self.0.clear()
    }
    async fn close(&self) -> Result<(), BackendError> {
        self.0.close()
    }
    async fn pass(&self, d: Duration) {
        self.1.advance(d);
    }
}

impl Store for RedisStore {
    async fn get(&self, k: &str) -> Result<Option<u64>, BackendError> {
        RedisStore::get(self, k).await
    }
    async fn set(&self, k: &str, v: u64, ttl: Option<Duration>) -> Result<(), BackendError> {
        RedisStore::set(self, k, v, ttl).await
    }
    async fn delete(&self, k: &str) -> Result<bool, BackendError> {
        RedisStore::delete(self, k).await
    }
    async fn exists(&self, k: &str) -> Result<bool, BackendError> {
        RedisStore::exists(self, k).await
    }
    async fn increment(
        &self,
        k: &str,
        by: u64,
        ttl: Option<Duration>,
    ) -> Result<u64, BackendError> {
        RedisStore::increment(self, k, by, ttl).await
    }
    async fn clear(&self) -> Result<(), BackendError> {
        RedisStore::clear(self).await
    }
    async fn close(&self) -> Result<(), BackendError> {
        RedisStore::close(self).await
    }
    async fn pass(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}

fn memory() -> Memory {
    let clock = ManualClock::new();
    clock.set(Duration::from_secs(1_000));
    Memory(MemoryStore::with_clock(1000, clock.clone()).unwrap(), clock)
}

/// A store under a prefix of its own, or `None` to skip (no URL set, none answering).
async fn redis(name: &str) -> Option<RedisStore> {
    let (url, set) = match std::env::var("RATECELL_REDIS_URL") {
        Ok(u) => (u, true),
        Err(_) => ("redis://127.0.0.1:6379".to_string(), false),
    };
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let prefix = format!("ratecell-test:store:{name}:{}:{t}:", std::process::id());
    let store = RedisStore::connect(&url, prefix, Duration::from_secs(5))
        .await
        .unwrap();
    match store.exists("probe").await {
        Ok(_) => Some(store),
        Err(e) if set => panic!("RATECELL_REDIS_URL={url} does not answer: {e}"),
        Err(_) => {
            eprintln!("skipped: no redis at {url}");
            None
        }
    }
}

async fn get_set_delete_exists(s: &impl Store) {
    assert_eq!(s.get("a").await.unwrap(), None);
    assert!(!s.exists("a").await.unwrap());
    s.set("a", 7, None).await.unwrap();
    assert_eq!(s.get("a").await.unwrap(), Some(7));
    assert!(s.exists("a").await.unwrap());
    s.set("a", 9, None).await.unwrap();
    assert_eq!(s.get("a").await.unwrap(), Some(9));
    s.set("zero", 0, None).await.unwrap();
    assert_eq!(s.get("zero").await.unwrap(), Some(0));
    assert!(s.delete("a").await.unwrap());
    assert!(!s.delete("a").await.unwrap());
    assert_eq!(s.get("a").await.unwrap(), None);
    assert_eq!(
        s.set("big", u64::from(u32::MAX) + 1, None).await,
        Err(BackendError::ValueTooLarge)
    );
    assert_eq!(s.get("big").await.unwrap(), None);
    assert_eq!(
        s.set("ttl0", 1, Some(Duration::ZERO)).await,
        Err(BackendError::ZeroTtl)
    );
    assert_eq!(
        s.increment("ttl0", 1, Some(Duration::ZERO)).await,
        Err(BackendError::ZeroTtl)
    );
}

async fn ttls_expire(s: &impl Store) {
    s.set("short", 1, Some(Duration::from_millis(300)))
        .await
        .unwrap();
    s.set("long", 2, Some(Duration::from_secs(600)))
        .await
        .unwrap();
    // A set without a time to live makes the key permanent.
    s.set("made_permanent", 3, Some(Duration::from_millis(300)))
        .await
        .unwrap();
    s.set("made_permanent", 4, None).await.unwrap();
    assert_eq!(s.get("long").await.unwrap(), Some(2));
    // The expiry, rounded up to the whole second, comes before 1.3 s from now.
    s.pass(Duration::from_millis(1_400)).await;
    assert_eq!(s.get("short").await.unwrap(), None);
    assert!(!s.exists("short").await.unwrap());
    assert!(!s.delete("short").await.unwrap(), "an expired key was gone");
    assert_eq!(s.get("long").await.unwrap(), Some(2));
    assert_eq!(s.get("made_permanent").await.unwrap(), Some(4));
}

async fn increments(s: &impl Store) {
    assert_eq!(
        s.increment("c", 1, Some(Duration::from_millis(300)))
            .await
            .unwrap(),
        1
    );
    // The TTL given to an existing key does not extend its life.
    assert_eq!(
        s.increment("c", 5, Some(Duration::from_secs(600)))
            .await
            .unwrap(),
        6
    );
    s.pass(Duration::from_millis(1_400)).await;
    assert_eq!(s.get("c").await.unwrap(), None);
    assert_eq!(s.increment("c", 2, None).await.unwrap(), 2, "a new counter");
    s.set("m", u64::from(u32::MAX) - 1, None).await.unwrap();
    assert_eq!(
        s.increment("m", 1, None).await.unwrap(),
        u64::from(u32::MAX)
    );
    assert_eq!(s.increment("m", 1, None).await, Err(BackendError::Overflow));
    assert_eq!(
        s.get("m").await.unwrap(),
        Some(u64::from(u32::MAX)),
        "unchanged"
    );
    assert_eq!(
        s.increment("n", u64::from(u32::MAX) + 1, None).await,
        Err(BackendError::Overflow)
    );
    assert_eq!(s.get("n").await.unwrap(), None);
}

async fn clear_and_close(s: &impl Store) {
    for i in 0..50u32 {
        s.set(&i.to_string(), u64::from(i), None).await.unwrap();
    }
    s.clear().await.unwrap();
    for i in 0..50u32 {
        assert_eq!(s.get(&i.to_string()).await.unwrap(), None);
    }
    s.close().await.unwrap();
    s.close().await.unwrap();
}

async fn concurrent_increments<S: Store>(s: Arc<S>) {
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                let mut last = [0u64; 4];
                for _ in 0..250 {
                    for (k, last) in last.iter_mut().enumerate() {
                        let v = s.increment(&k.to_string(), 1, None).await.unwrap();
                        assert!(v > *last, "each caller sees its counter only grow");
                        *last = v;
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    for k in 0..4 {
        assert_eq!(s.get(&k.to_string()).await.unwrap(), Some(2_000));
    }
}

macro_rules! suite {
    ($($name:ident),*) => {
        mod memory_store_contract {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let s = Arc::new(memory());
                    run_one(stringify!($name), s).await;
                }
            )*
        }
        mod redis_store_contract {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(s) = redis(stringify!($name)).await else { return };
                    let s = Arc::new(s);
                    run_one(stringify!($name), s.clone()).await;
                    s.clear().await.unwrap();
                }
            )*
        }
    };
}

async fn run_one<S: Store>(name: &str, s: Arc<S>) {
    match name {
        "get_set_delete_exists" => get_set_delete_exists(&*s).await,
        "ttls_expire" => ttls_expire(&*s).await,
        "increments" => increments(&*s).await,
        "clear_and_close" => clear_and_close(&*s).await,
        "concurrent_increments" => concurrent_increments(s).await,
        _ => unreachable!(),
    }
}

suite!(
    get_set_delete_exists,
    ttls_expire,
    increments,
    clear_and_close,
    concurrent_increments
);
