//! `RedisLimiter`: one limit per key, kept in Redis and shared by every process
//! that names the same prefix.

use super::deny_cache::DenyCache;
use super::failure::{Count, FailurePolicy, Health, RedisStats, Unavailable};
use super::key::{valid_prefix, RedisKey};
use super::scripts::{self, Mode, Reply};
use crate::algorithm::{Algorithm, Params};
use crate::clock::Nanos;
use crate::decision::Decision;
use crate::error::{BuildError, InsufficientCapacity};
use crate::quota::Quota;
use core::fmt;
use core::future::Future;
use core::time::Duration;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;
use std::string::String;
use std::vec::Vec;

/// Room for denied keys in the local deny cache, by default.
pub const DEFAULT_DENY_CACHE: usize = 4096;

/// A Redis-backed limiter could not be set up.
#[derive(Debug)]
#[non_exhaustive]
pub enum RedisSetupError {
    /// The quota does not fit the algorithm (as for the in-memory limiters).
    Build(BuildError),
    /// The key prefix holds a brace, which would move the Cluster hash tag.
    Prefix,
    /// The URL or the client configuration was refused.
    Redis(redis::RedisError),
}

impl fmt::Display for RedisSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Build(e) => e.fmt(f),
            Self::Prefix => f.write_str("a redis key prefix may not contain '{' or '}'"),
            Self::Redis(e) => write!(f, "redis: {e}"),
        }
    }
}

impl std::error::Error for RedisSetupError {}

/// Configures a [`RedisLimiter`].
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `connect` or `build_with`"]
pub struct RedisLimiterBuilder {
    quota: Quota,
    algorithm: Algorithm,
    prefix: String,
    timeout: Duration,
    policy: FailurePolicy,
    deny_cache: usize,
}

impl RedisLimiterBuilder {
    /// The algorithm (default: the token bucket).
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// The prefix of every Redis key (default `"ratecell:"`); limiters that share a
    /// limit share a prefix (and a quota and an algorithm), and different limits
    /// need different prefixes.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The longest a call waits for Redis (default 50 ms) before the failure
    /// policy answers.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// What a check answers when Redis does not (default: [`FailurePolicy::Open`]).
    pub fn on_failure(mut self, policy: FailurePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Room for keys in the local deny cache (default [`DEFAULT_DENY_CACHE`],
    /// about 24 bytes each, fixed at build like every table of the crate); 0 turns
    /// it off, so that every check asks Redis.
    pub fn deny_cache(mut self, keys: usize) -> Self {
        self.deny_cache = keys;
        self
    }

    /// Opens a multiplexed connection to `url` (`redis://host:port/db`), which
    /// reconnects by itself. The connection is made on the first call, so a
    /// limiter can start while Redis is down (its calls then fail per policy).
    pub async fn connect(self, url: &str) -> Result<RedisLimiter, RedisSetupError> {
        let client = redis::Client::open(url).map_err(RedisSetupError::Redis)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(RedisSetupError::Redis)?;
        self.build_with(conn)
    }

    /// Builds on an existing connection (several limiters may share one).
    pub fn build_with(self, conn: ConnectionManager) -> Result<RedisLimiter, RedisSetupError> {
        let params = Params::new(self.algorithm, &self.quota)
            .map_err(|e| RedisSetupError::Build(BuildError::from(e)))?;
        if !valid_prefix(&self.prefix) {
            return Err(RedisSetupError::Prefix);
        }
        Ok(RedisLimiter {
            params,
            quota: self.quota,
            prefix: self.prefix,
            timeout: self.timeout,
            policy: self.policy,
            script: Script::new(scripts::source(self.algorithm)),
            conn,
            health: Health::default(),
            deny_cache: DenyCache::new(self.deny_cache),
        })
    }
}

/// A limiter whose states live in Redis, so that every process using the same
/// prefix shares one limit per key.
///
/// The five algorithms run as Lua scripts, each check one atomic script on the
/// server, deciding exactly as the in-memory [`Limiter`](crate::Limiter) does on
/// the same timeline: the server's clock (`TIME`), in nanoseconds since the UNIX
/// epoch. A key's state expires in Redis once it means the same as no state.
/// Calls time out ([`RedisLimiterBuilder::timeout`]) and then answer per the
/// [`FailurePolicy`]; the connection comes back by itself. Calls run on tokio, in
/// a runtime with its timers enabled (`enable_all`, or `#[tokio::main]`).
///
/// ```no_run
/// use ratecell::redis::RedisLimiter;
/// use ratecell::{Algorithm, Quota};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let lim = RedisLimiter::builder(Quota::per_minute(100)?)
///     .algorithm(Algorithm::SlidingWindowCounter)
///     .prefix("api:")
///     .connect("redis://127.0.0.1:6379")
///     .await?;
/// if lim.check("user:42").await.is_allowed() { /* serve */ }
/// # Ok(()) }
/// ```
pub struct RedisLimiter {
    params: Params,
    quota: Quota,
    prefix: String,
    timeout: Duration,
    policy: FailurePolicy,
    script: Script,
    conn: ConnectionManager,
    health: Health,
    deny_cache: Option<DenyCache>,
}

impl fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("quota", &self.quota)
            .field("algorithm", &self.params.algorithm)
            .field("prefix", &self.prefix)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl RedisLimiter {
    /// Starts configuring a limiter for `quota`.
    pub fn builder(quota: Quota) -> RedisLimiterBuilder {
        RedisLimiterBuilder {
            quota,
            algorithm: Algorithm::default(),
            prefix: String::from("ratecell:"),
            timeout: Duration::from_millis(50),
            policy: FailurePolicy::default(),
            deny_cache: DEFAULT_DENY_CACHE,
        }
    }

    /// Checks one request for `key` and consumes quota if it is allowed.
    ///
    /// The key is named before the call (see [`crate::redis`] for the hash), so
    /// the future does not borrow it.
    pub fn check<K: RedisKey + ?Sized>(&self, key: &K) -> impl Future<Output = Decision> + '_ {
        let named = key.name(&self.prefix);
        async move { self.decide(named, Mode::Check, 1).await }
    }

    /// Checks a request of cost `n` for `key`, all or nothing; `n = 0` peeks.
    pub fn check_n<K: RedisKey + ?Sized>(
        &self,
        key: &K,
        n: u32,
    ) -> impl Future<Output = Result<Decision, InsufficientCapacity>> + '_ {
        let named = key.name(&self.prefix);
        let cost = self
            .params
            .cost(n)
            .map_err(|max| InsufficientCapacity::new(n, max));
        async move {
            Ok(match cost? {
                Some(c) => self.decide(named, Mode::Check, c).await,
                None => self.decide(named, Mode::Peek, 1).await,
            })
        }
    }

    /// The decision `check(key)` would give now, consuming nothing.
    pub fn peek<K: RedisKey + ?Sized>(&self, key: &K) -> impl Future<Output = Decision> + '_ {
        let named = key.name(&self.prefix);
        async move { self.decide(named, Mode::Peek, 1).await }
    }

    /// Forgets `key` in Redis (and in this process's deny cache).
    pub fn reset<K: RedisKey + ?Sized>(
        &self,
        key: &K,
    ) -> impl Future<Output = Result<(), Unavailable>> + '_ {
        let named = key.name(&self.prefix);
        async move {
            let (key, hash) = named;
            if let Some(cache) = &self.deny_cache {
                cache.forget(hash);
            }
            let mut conn = self.conn.clone();
            self.health.count(Count::RoundTrip);
            let mut del = redis::cmd("DEL");
            del.arg(&key);
            match tokio::time::timeout(self.timeout, del.query_async::<i64>(&mut conn)).await {
                Ok(Ok(_)) => {
                    self.health.answered();
                    Ok(())
                }
                Ok(Err(_)) => Err(Unavailable::Connection),
                Err(_) => Err(Unavailable::Timeout),
            }
        }
    }

    /// The quota.
    pub fn quota(&self) -> &Quota {
        &self.quota
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.params.algorithm
    }

    /// The counters since the limiter was built.
    pub fn stats(&self) -> RedisStats {
        self.health.stats()
    }

    /// Whether the last call to Redis failed (checks then answer per policy).
    pub fn is_unavailable(&self) -> bool {
        self.health.is_down()
    }

    /// The Redis key that holds `key`'s state.
    pub fn redis_key<K: RedisKey + ?Sized>(&self, key: &K) -> Vec<u8> {
        key.name(&self.prefix).0
    }

    async fn decide(&self, named: (Vec<u8>, u64), mode: Mode, cost: u64) -> Decision {
        match self.attempt(named, mode, cost).await {
            Ok(d) => d,
            Err(_) => self.failure_decision(),
        }
    }

    /// What a check answers when Redis does not, per the [`FailurePolicy`]:
    /// admitted, or denied with a retry time of one second; no quota numbers but
    /// the limit and the window.
    pub(crate) fn failure_decision(&self) -> Decision {
        let mut d = self
            .params
            .blank_decision(self.policy == FailurePolicy::Open);
        if self.policy == FailurePolicy::Closed {
            d.retry_after = 1_000_000_000;
            d.reset_after = d.retry_after;
        }
        d
    }

    /// Whether a request of cost `n` can ever be admitted, without a round trip
    /// (for the HTTP layer).
    #[cfg_attr(not(feature = "tower"), allow(dead_code))]
    pub(crate) fn fits(&self, n: u32) -> Result<(), InsufficientCapacity> {
        self.params
            .cost(n)
            .map(drop)
            .map_err(|max| InsufficientCapacity::new(n, max))
    }

    /// What the failure policy is.
    pub fn failure_policy(&self) -> FailurePolicy {
        self.policy
    }

    /// `check_n` (`peek` false) or its peek at cost `n` (`peek` true), with a
    /// Redis failure as the error instead of the policy's answer (the failure is
    /// counted and logged all the same), for callers that answer failures
    /// themselves (the HTTP layer).
    #[cfg_attr(not(feature = "tower"), allow(dead_code))]
    pub(crate) fn try_decide_n<K: RedisKey + ?Sized>(
        &self,
        key: &K,
        n: u32,
        peek: bool,
    ) -> Result<impl Future<Output = Result<Decision, Unavailable>> + '_, InsufficientCapacity>
    {
        let named = key.name(&self.prefix);
        let cost = self
            .params
            .cost(n)
            .map_err(|max| InsufficientCapacity::new(n, max))?;
        let (mode, cost) = match cost {
            Some(c) if !peek => (Mode::Check, c),
            c => (Mode::Peek, c.unwrap_or(1)),
        };
        Ok(self.attempt(named, mode, cost))
    }

    /// The decision for `key`, or why Redis gave none (counted, and logged once
    /// per outage).
    async fn attempt(
        &self,
        (key, hash): (Vec<u8>, u64),
        mode: Mode,
        cost: u64,
    ) -> Result<Decision, Unavailable> {
        if let Some(retry) = self.deny_cache.as_ref().and_then(|c| c.denied_for(hash)) {
            self.health.count(Count::DeniedLocally);
            let mut d = self.params.blank_decision(false);
            d.retry_after = retry;
            d.reset_after = retry;
            return Ok(d);
        }
        match self.run(&key, mode, cost, None).await {
            Ok(d) => {
                if mode == Mode::Check {
                    self.health.count(if d.allowed {
                        Count::Admitted
                    } else {
                        Count::Denied
                    });
                }
                if !d.allowed && cost == 1 {
                    if let Some(cache) = &self.deny_cache {
                        cache.remember(hash, d.retry_after);
                    }
                }
                Ok(d)
            }
            Err(why) => {
                self.health.failed(why, self.policy);
                Err(why)
            }
        }
    }

    /// One script run, at `now` (a test's time) or the server's.
    pub(crate) async fn run(
        &self,
        key: &[u8],
        mode: Mode,
        cost: u64,
        now: Option<Nanos>,
    ) -> Result<Decision, Unavailable> {
        let inv = scripts::invocation(&self.script, &self.params, key, mode, cost, now);
        let mut conn = self.conn.clone();
        self.health.count(Count::RoundTrip);
        match tokio::time::timeout(self.timeout, inv.invoke_async::<Reply>(&mut conn)).await {
            Ok(Ok(reply)) => {
                self.health.answered();
                Ok(scripts::decision(&self.params, &reply))
            }
            Ok(Err(_)) => Err(Unavailable::Connection),
            Err(_) => Err(Unavailable::Timeout),
        }
    }

    /// `check_n` at a test's time `now`, bypassing the deny cache and the policy.
    #[cfg(test)]
    pub(crate) async fn check_at<K: RedisKey + ?Sized>(
        &self,
        key: &K,
        n: u32,
        now: Nanos,
    ) -> Result<Result<Decision, InsufficientCapacity>, Unavailable> {
        let named = key.name(&self.prefix);
        match self.params.cost(n) {
            Err(max) => Ok(Err(InsufficientCapacity::new(n, max))),
            Ok(Some(c)) => self.run(&named.0, Mode::Check, c, Some(now)).await.map(Ok),
            Ok(None) => self.run(&named.0, Mode::Peek, 1, Some(now)).await.map(Ok),
        }
    }

    /// `peek_n` at a test's time `now`.
    #[cfg(test)]
    pub(crate) async fn peek_at<K: RedisKey + ?Sized>(
        &self,
        key: &K,
        n: u32,
        now: Nanos,
    ) -> Result<Result<Decision, InsufficientCapacity>, Unavailable> {
        match self.params.cost(n) {
            Err(max) => Ok(Err(InsufficientCapacity::new(n, max))),
            Ok(c) => self
                .run(
                    &key.name(&self.prefix).0,
                    Mode::Peek,
                    c.unwrap_or(1),
                    Some(now),
                )
                .await
                .map(Ok),
        }
    }
}
