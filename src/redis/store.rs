//! `RedisStore`: the seed's seven-operation key-value contract on Redis.

use super::key::{valid_prefix, RedisKey};
use super::limiter::RedisSetupError;
use crate::store::BackendError;
use core::future::Future;
use core::time::Duration;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, Script};
use std::string::{String, ToString};
use std::vec::Vec;

macro_rules! script {
    ($file:literal) => {
        concat!(include_str!("lua/num.lua"), include_str!($file))
    };
}

/// The [`Backend`](crate::store::Backend) contract on Redis, async, with
/// [`MemoryStore`](crate::store::MemoryStore)'s semantics: values are 32-bit
/// (larger ones are [`ValueTooLarge`](BackendError::ValueTooLarge), an increment
/// past `u32::MAX` is [`Overflow`](BackendError::Overflow) and changes nothing),
/// expiries are rounded up to the whole second on the server's clock, a zero
/// time to live is refused, and an increment that creates its key gives it the
/// time to live while an existing key keeps its expiry. Keys are hashed and named
/// as [`RedisLimiter`](super::RedisLimiter)'s are (`prefix{hash}`, or a
/// [`Raw`](super::Raw) key's bytes), and `clear` removes every key under the prefix (with `SCAN`, on one server; on a Cluster,
/// per node). A call that times out or loses its connection is
/// [`Unavailable`](BackendError::Unavailable).
pub struct RedisStore {
    prefix: String,
    timeout: Duration,
    conn: ConnectionManager,
    set: Script,
    increment: Script,
}

impl core::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store under `prefix` at `url`, each call waiting at most `timeout`; the
    /// connection is made on the first call and comes back by itself.
    pub async fn connect(
        url: &str,
        prefix: impl Into<String>,
        timeout: Duration,
    ) -> Result<Self, RedisSetupError> {
        let client = redis::Client::open(url).map_err(RedisSetupError::Redis)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(RedisSetupError::Redis)?;
        Self::with_connection(conn, prefix, timeout)
    }

    /// A store on an existing connection.
    pub fn with_connection(
        conn: ConnectionManager,
        prefix: impl Into<String>,
        timeout: Duration,
    ) -> Result<Self, RedisSetupError> {
        let prefix = prefix.into();
        if !valid_prefix(&prefix) {
            return Err(RedisSetupError::Prefix);
        }
        Ok(Self {
            prefix,
            timeout,
            conn,
            set: Script::new(script!("lua/store_set.lua")),
            increment: Script::new(script!("lua/store_increment.lua")),
        })
    }

    fn key<K: RedisKey + ?Sized>(&self, key: &K) -> Vec<u8> {
        key.name(&self.prefix).0
    }

    async fn query<T: FromRedisValue>(&self, cmd: redis::Cmd) -> Result<T, BackendError> {
        let mut conn = self.conn.clone();
        self.within(async move { cmd.query_async::<T>(&mut conn).await })
            .await
    }

    async fn within<T>(
        &self,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, BackendError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) | Err(_) => Err(BackendError::Unavailable),
        }
    }

    /// The value under `key`, if it has one that has not expired.
    pub fn get<K: RedisKey + ?Sized>(
        &self,
        key: &K,
    ) -> impl Future<Output = Result<Option<u64>, BackendError>> + '_ {
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.key(key));
        async move { self.query::<Option<u64>>(cmd).await }
    }

    /// Stores `value` under `key`, replacing any value; it expires after `ttl`
    /// (`None`: never).
    pub fn set<K: RedisKey + ?Sized>(
        &self,
        key: &K,
        value: u64,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<(), BackendError>> + '_ {
        let key = self.key(key);
        async move {
            if value > u64::from(u32::MAX) {
                return Err(BackendError::ValueTooLarge);
            }
            let ttl = ttl_arg(ttl)?;
            let mut inv = self.set.key(&key);
            inv.arg(value).arg(ttl);
            let mut conn = self.conn.clone();
            self.within(inv.invoke_async::<i64>(&mut conn))
                .await
                .map(|_| ())
        }
    }

    /// Removes `key`; whether it had a live value.
    pub fn delete<K: RedisKey + ?Sized>(
        &self,
        key: &K,
    ) -> impl Future<Output = Result<bool, BackendError>> + '_ {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.key(key));
        async move { self.query::<i64>(cmd).await.map(|n| n > 0) }
    }

    /// Whether `key` has a live value.
    pub fn exists<K: RedisKey + ?Sized>(
        &self,
        key: &K,
    ) -> impl Future<Output = Result<bool, BackendError>> + '_ {
        let mut cmd = redis::cmd("EXISTS");
        cmd.arg(self.key(key));
        async move { self.query::<i64>(cmd).await.map(|n| n > 0) }
    }

    /// Atomically adds `by` to the value under `key` (0 if it has none) and returns
    /// the new value; a key the increment creates expires after `ttl`, an existing
    /// key keeps its expiry.
    pub fn increment<K: RedisKey + ?Sized>(
        &self,
        key: &K,
        by: u64,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<u64, BackendError>> + '_ {
        let key = self.key(key);
        async move {
            let by = u32::try_from(by).map_err(|_| BackendError::Overflow)?;
            let ttl = ttl_arg(ttl)?;
            let mut inv = self.increment.key(&key);
            inv.arg(by).arg(ttl);
            let mut conn = self.conn.clone();
            let v = self.within(inv.invoke_async::<i64>(&mut conn)).await?;
            u64::try_from(v).map_err(|_| BackendError::Overflow)
        }
    }

    /// Removes every key under the prefix.
    pub async fn clear(&self) -> Result<(), BackendError> {
        let pattern = std::format!("{}{{*", glob_escape(&self.prefix));
        let mut cursor: u64 = 0;
        loop {
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000);
            let (next, keys): (u64, Vec<String>) = self.query(scan).await?;
            if !keys.is_empty() {
                let mut del = redis::cmd("UNLINK");
                del.arg(keys);
                self.query::<i64>(del).await?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    /// Releases the store's resources: none of its own (the connection closes when
    /// the last clone of it is dropped), so this is a no-op kept for the contract.
    pub async fn close(&self) -> Result<(), BackendError> {
        Ok(())
    }
}

/// A time to live as the scripts take it, or the contract's refusal of zero.
fn ttl_arg(ttl: Option<Duration>) -> Result<String, BackendError> {
    match ttl {
        None => Ok(String::new()),
        Some(t) if t.is_zero() => Err(BackendError::ZeroTtl),
        Some(t) => Ok(t.as_nanos().min(u128::from(u64::MAX)).to_string()),
    }
}

/// `s` with the glob pattern's special characters escaped, for `SCAN MATCH`.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
