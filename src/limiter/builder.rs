//! Builders: configuration is checked once, at `build`, into typed errors.

use crate::algorithm::{Algorithm, Params};
use crate::clock::{Clock, DefaultClock};
use crate::error::BuildError;
use crate::limiter::{DirectLimiter, Limiter};
use crate::quota::Quota;
use crate::store::MemoryStore;
use crate::store::StateStore;
use crate::table::{random_seeds, FullPolicy};

/// Configures a [`DirectLimiter`]; made by [`DirectLimiter::builder`].
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until .build()"]
pub struct DirectBuilder<C> {
    quota: Quota,
    algorithm: Algorithm,
    clock: C,
    shards: Option<usize>,
}

impl DirectBuilder<DefaultClock> {
    pub(crate) fn new(quota: Quota) -> Self {
        Self {
            quota,
            algorithm: Algorithm::default(),
            clock: DefaultClock::default(),
            shards: None,
        }
    }
}

impl<C> DirectBuilder<C> {
    /// Shards the limiter for many threads checking it at once (token bucket only):
    /// each thread draws from a lease of units that it takes from the shared state
    /// in one compare-exchange, so a contended limit moves one shared cache line per
    /// lease instead of one per check. It never admits more than the plain limiter
    /// would; units a quiet thread holds expire on the schedule, and the lease
    /// starts at one unit (the plain limiter exactly) and grows only under
    /// contention. Four shards per available CPU, so that threads seldom share
    /// one (a thread that meets another on its shard moves to the next); see
    /// [`shards`](Self::shards).
    pub fn sharded(self) -> Self {
        #[cfg(feature = "std")]
        let n = 4 * std::thread::available_parallelism().map_or(1, |n| n.get());
        #[cfg(not(feature = "std"))]
        let n = 1;
        self.shards(n)
    }

    /// Shards the limiter over `n` shards (see [`sharded`](Self::sharded)); threads
    /// are spread over them in the order they first check.
    pub fn shards(mut self, n: usize) -> Self {
        self.shards = Some(n);
        self
    }

    /// The algorithm (default: [`Algorithm::TokenBucket`]).
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// The clock (default: [`DefaultClock`], the UNIX-anchored quanta clock).
    pub fn clock<C2: Clock>(self, clock: C2) -> DirectBuilder<C2> {
        DirectBuilder {
            quota: self.quota,
            algorithm: self.algorithm,
            clock,
            shards: self.shards,
        }
    }
}

impl<C: Clock> DirectBuilder<C> {
    /// Validates the configuration and builds the limiter.
    pub fn build(self) -> Result<DirectLimiter<C>, BuildError> {
        let params = Params::live(self.algorithm, &self.quota)?;
        match self.shards {
            Some(0) => return Err(BuildError::ZeroShards),
            Some(_) if params.algorithm != Algorithm::TokenBucket => {
                return Err(BuildError::NotShardable(params.algorithm))
            }
            _ => {}
        }
        Ok(DirectLimiter::from_parts(
            params,
            self.quota,
            self.clock,
            self.shards,
        ))
    }
}

/// Configures a keyed [`Limiter`]; made by [`Limiter::builder`].
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until .build()"]
pub struct LimiterBuilder<C> {
    quota: Quota,
    algorithm: Algorithm,
    capacity: usize,
    clock: C,
    policy: FullPolicy,
    seeds: Option<[u64; 4]>,
    log_memory: u64,
}

/// Default bound on the memory of a keyed sliding-window log's per-key logs:
/// 64 MiB (see [`LimiterBuilder::log_memory_limit`]).
pub const DEFAULT_LOG_MEMORY: u64 = 64 << 20;

/// Default capacity: 65,536 live keys (about 1.5 MiB).
pub const DEFAULT_CAPACITY: usize = 1 << 16;

impl LimiterBuilder<DefaultClock> {
    pub(crate) fn new(quota: Quota) -> Self {
        Self {
            quota,
            algorithm: Algorithm::default(),
            capacity: DEFAULT_CAPACITY,
            clock: DefaultClock::default(),
            policy: FullPolicy::default(),
            seeds: None,
            log_memory: DEFAULT_LOG_MEMORY,
        }
    }
}

impl<C> LimiterBuilder<C> {
    /// The algorithm (default: [`Algorithm::TokenBucket`]).
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// How many live keys the limiter holds (default [`DEFAULT_CAPACITY`]). Memory is
    /// fixed by it at build, about 23.4 bytes per key; it never grows afterwards.
    pub fn capacity(mut self, keys: usize) -> Self {
        self.capacity = keys;
        self
    }

    /// What to do when a new key finds no room (default: evict the live key that
    /// expires soonest).
    pub fn full_policy(mut self, policy: FullPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Fixes the hash seeds instead of drawing random ones (for tests and for
    /// restoring snapshots). Random seeds are what defeat crafted-collision attacks:
    /// fix them only when you must.
    pub fn hash_seeds(mut self, seeds: [u64; 4]) -> Self {
        self.seeds = Some(seeds);
        self
    }

    /// The most memory, in bytes, that a keyed [`Algorithm::SlidingWindowLog`] may
    /// take for its logs (default [`DEFAULT_LOG_MEMORY`]). Every room of the table
    /// holds a log of `limit` entries, `16 + 8 × limit` bytes, allocated at build:
    /// a build that would need more is refused with [`BuildError::LogsTooLarge`],
    /// which states the bytes, rather than taking gigabytes unasked.
    pub fn log_memory_limit(mut self, bytes: u64) -> Self {
        self.log_memory = bytes;
        self
    }

    /// The clock (default: [`DefaultClock`], the UNIX-anchored quanta clock).
    pub fn clock<C2: Clock>(self, clock: C2) -> LimiterBuilder<C2> {
        LimiterBuilder {
            quota: self.quota,
            algorithm: self.algorithm,
            capacity: self.capacity,
            clock,
            policy: self.policy,
            seeds: self.seeds,
            log_memory: self.log_memory,
        }
    }
}

impl<C: Clock + Clone> LimiterBuilder<C> {
    /// Validates the configuration, allocates the table and builds the limiter.
    pub fn build(self) -> Result<Limiter<C>, BuildError> {
        let seeds = self.seeds.unwrap_or_else(random_seeds);
        let params = Params::live(self.algorithm, &self.quota)?;
        let mut store =
            MemoryStore::from_parts(self.capacity, self.clock.clone(), self.policy, seeds)?;
        if params.algorithm == Algorithm::SlidingWindowLog {
            store = store.with_logs(params.limit, self.log_memory)?;
        }
        self.build_on(store)
    }
}

impl<C: Clock> LimiterBuilder<C> {
    /// Builds the limiter on a store of your own (capacity, policy and seeds are
    /// then the store's business).
    pub fn build_on<S: StateStore>(self, store: S) -> Result<Limiter<C, S>, BuildError> {
        let params = Params::live(self.algorithm, &self.quota)?;
        if params.algorithm == Algorithm::SlidingWindowLog
            && store.keyed_logs().map(|l| l.limit()) != Some(params.limit)
        {
            return Err(BuildError::NotKeyed(params.algorithm));
        }
        if self.capacity == 0 {
            return Err(BuildError::ZeroCapacity);
        }
        Ok(Limiter::from_parts(params, self.quota, self.clock, store))
    }
}
