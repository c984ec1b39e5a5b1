//! A named limit the layer enforces, and the all-or-nothing check of a stack of them.

use super::fields::sanitize_name;
use super::in_flight::InFlight;
use super::key::Key;
use crate::clock::Clock;
use crate::concurrency::{ConcurrencyLimiter, KeyedConcurrencyLimiter};
use crate::decision::Decision;
use crate::error::InsufficientCapacity;
use crate::limiter::{DirectLimiter, Limiter, StackedLimiter};
use crate::store::StateStore;
use crate::Algorithm;
use std::fmt;
use std::sync::Arc;

/// One limiter behind a policy, whatever its clock and store.
///
/// Private so that a fallible, asynchronous backend (a remote store) can join as
/// another implementation or a new [`Backend`] variant without changing the public
/// [`Policy`].
trait Check: Send + Sync {
    fn peek_n(&self, key: &Key, n: u32) -> Result<Decision, InsufficientCapacity>;
    fn check_n(&self, key: &Key, n: u32) -> Result<Decision, InsufficientCapacity>;
    fn peek(&self, key: &Key) -> Decision;
    fn algorithm(&self) -> Algorithm;
    /// Each quota's peek, for `RateLimit-Policy` (a stack has several).
    fn quota_peeks(&self, key: &Key) -> Vec<Decision> {
        vec![self.peek(key)]
    }
}

impl<C, S> Check for Limiter<C, S>
where
    C: Clock + Send + Sync,
    S: StateStore + Send + Sync,
{
    fn peek_n(&self, key: &Key, n: u32) -> Result<Decision, InsufficientCapacity> {
        Limiter::peek_n(self, key, n)
    }
    fn check_n(&self, key: &Key, n: u32) -> Result<Decision, InsufficientCapacity> {
        // `check` folds the unit cost into its arithmetic; most requests cost 1.
        if n == 1 {
            return Ok(Limiter::check(self, key));
        }
        Limiter::check_n(self, key, n)
    }
    fn peek(&self, key: &Key) -> Decision {
        Limiter::peek(self, key)
    }
    fn algorithm(&self) -> Algorithm {
        Limiter::algorithm(self)
    }
}

impl<C: Clock + Send + Sync> Check for DirectLimiter<C> {
    fn peek_n(&self, _: &Key, n: u32) -> Result<Decision, InsufficientCapacity> {
        DirectLimiter::peek_n(self, n)
    }
    fn check_n(&self, _: &Key, n: u32) -> Result<Decision, InsufficientCapacity> {
        // As for the keyed limiter: the unit cost has its own, shorter path.
        if n == 1 {
            return Ok(DirectLimiter::check(self));
        }
        DirectLimiter::check_n(self, n)
    }
    fn peek(&self, _: &Key) -> Decision {
        DirectLimiter::peek(self)
    }
    fn algorithm(&self) -> Algorithm {
        DirectLimiter::algorithm(self)
    }
}

impl<C: Clock + Send + Sync> Check for StackedLimiter<C> {
    fn peek_n(&self, key: &Key, n: u32) -> Result<Decision, InsufficientCapacity> {
        StackedLimiter::peek_n(self, key, n)
    }
    fn check_n(&self, key: &Key, n: u32) -> Result<Decision, InsufficientCapacity> {
        // As for the keyed limiter: the unit cost has its own, shorter path.
        if n == 1 {
            return Ok(StackedLimiter::check(self, key));
        }
        StackedLimiter::check_n(self, key, n)
    }
    fn peek(&self, key: &Key) -> Decision {
        StackedLimiter::peek(self, key)
    }
    fn algorithm(&self) -> Algorithm {
        self.limiter(0)
            .map_or_else(Algorithm::default, Limiter::algorithm)
    }
    fn quota_peeks(&self, key: &Key) -> Vec<Decision> {
        (0..self.quotas().len())
            .filter_map(|i| self.limiter(i).map(|l| l.peek(key)))
            .collect()
    }
}

#[derive(Clone)]
enum Backend {
    /// In this process: never fails, never waits.
    Local(Arc<dyn Check>),
    /// In Redis: a round trip that may fail, made on the layer's async path.
    #[cfg(feature = "redis")]
    Redis(Arc<crate::redis::RedisLimiter>),
    /// An in-flight limit (`in_flight.rs`): the layer holds these apart from the
    /// rate policies, and takes a permit per request instead of a check.
    InFlight(InFlight),
}

/// A named limit: a keyed [`Limiter`] (one quota per key), a [`DirectLimiter`]
/// (one quota for all requests, whatever their key), or, with feature `redis`, a
/// `RedisLimiter` shared by many processes ([`Policy::redis`]).
///
/// The name appears in `RateLimit-Policy`, `RateLimit` and the problem body's
/// `violated-policies`; it keeps only ASCII letters, digits and `-_.:/` (at most 64).
#[derive(Clone)]
pub struct Policy {
    pub(crate) name: Arc<str>,
    backend: Backend,
}

impl Policy {
    /// A policy giving every key its own quota. Pass an `Arc` to keep a handle (to
    /// snapshot the limiter, say).
    pub fn keyed<C, S>(name: &str, limiter: impl Into<Arc<Limiter<C, S>>>) -> Self
    where
        C: Clock + Send + Sync + 'static,
        S: StateStore + Send + Sync + 'static,
    {
        let lim: Arc<Limiter<C, S>> = limiter.into();
        Self::local(name, lim)
    }

    /// A policy with one quota shared by every request.
    pub fn global<C>(name: &str, limiter: impl Into<Arc<DirectLimiter<C>>>) -> Self
    where
        C: Clock + Send + Sync + 'static,
    {
        let lim: Arc<DirectLimiter<C>> = limiter.into();
        Self::local(name, lim)
    }

    /// A policy whose states live in Redis (feature `redis`), shared by every
    /// process whose limiter names the same prefix: each key its own quota.
    ///
    /// A layer holding one decides every request asynchronously, all or nothing
    /// across its policies as far as Redis allows: local policies are peeked
    /// first, then Redis checks (a peek first when there are several Redis
    /// policies), then the local checks. A Redis check consumes and cannot be
    /// given back, so a request that a local policy denies in a race after Redis
    /// admitted it has consumed one Redis unit: the stack may admit less than each
    /// policy alone, never more.
    ///
    /// The Redis key of a request is the limiter's prefix and the layer's key as
    /// text in a hash tag ([`Raw`](crate::redis::Raw)): `prefix{ip:192.0.2.7}`,
    /// `prefix{h:<header value>}`, `prefix{t:<text>}`, `prefix{n:42}`,
    /// `prefix{global}`, so programs in other languages can name it too (a header
    /// key, an API key say, is then visible in Redis).
    ///
    /// When Redis does not answer within the limiter's timeout, its
    /// [`FailurePolicy`](crate::redis::FailurePolicy) decides: `Open` admits the
    /// request (the other policies still apply; the response's `RateLimit` field
    /// comes from a policy that answered, and the [`Decisions`](super::Decisions)
    /// hold the limiter's blank decision for this one), `Closed` answers `503
    /// Service Unavailable` with `Retry-After: 1` and a problem body, consuming
    /// from no local policy. Either is counted as the outcome `failed` (feature
    /// `metrics`), and the limiter logs once when Redis goes and once when it is
    /// back (feature `tracing`).
    #[cfg(feature = "redis")]
    pub fn redis(name: &str, limiter: impl Into<Arc<crate::redis::RedisLimiter>>) -> Self {
        Self {
            name: sanitize_name(name).into(),
            backend: Backend::Redis(limiter.into()),
        }
    }

    /// The Redis limiter behind the policy, if it has one.
    #[cfg(feature = "redis")]
    pub(crate) fn remote(&self) -> Option<&crate::redis::RedisLimiter> {
        match &self.backend {
            Backend::Redis(r) => Some(r),
            _ => None,
        }
    }

    /// A policy of several quotas on one key space, all or nothing (a
    /// [`StackedLimiter`]).
    ///
    /// Every quota is an item of `RateLimit-Policy`, named after the policy and
    /// the quota's index in [`StackedLimiter::quotas`]: `"api-0"`, `"api-1"` for a
    /// policy `"api"` (a stack of one quota is just `"api"`). `RateLimit` and the
    /// problem body's `violated-policies` name the quota that decided
    /// ([`Decision::quota_index`]); the [`Decisions`](super::Decisions) extension
    /// lists the stack under the policy's own name, with the deciding quota's
    /// decision.
    pub fn stacked<C>(name: &str, limiter: impl Into<Arc<StackedLimiter<C>>>) -> Self
    where
        C: Clock + Send + Sync + 'static,
    {
        let lim: Arc<StackedLimiter<C>> = limiter.into();
        Self::local(name, lim)
    }

    /// An in-flight limit on every request together: at most
    /// [`max`](ConcurrencyLimiter::max) requests inside the inner service at once,
    /// whatever their key (tower's `ConcurrencyLimit`, without the wait).
    ///
    /// A request takes a permit ([`try_acquire`](ConcurrencyLimiter::try_acquire),
    /// never waiting) before the rate policies are checked, so a request refused
    /// for want of a permit consumes no rate; a request the rate policies then
    /// deny gives its permit back at once. An admitted request holds its permit
    /// until its response future completes (the response head is ready) or is
    /// dropped (the client went away): the streaming of the response body is not
    /// covered, as with tower's `ConcurrencyLimit`. Exempt requests take no permit.
    ///
    /// When no permit is free the answer is `503 Service Unavailable` (or the
    /// status set by [`in_flight_status`](super::RateLimitLayer::in_flight_status))
    /// with an RFC 9457 problem body naming the policy in `violated-policies`, and
    /// no `Retry-After`: how long the requests in flight will take is unknown.
    /// The refusal carries the rate policies' `RateLimit-Policy` as every answer
    /// does, but no `RateLimit`: no rate was checked (a peek would tell what is
    /// left after one more request, not what is left now). An in-flight policy is
    /// not a quota and never appears in either field.
    ///
    /// An in-flight policy makes each admitted request's future a boxed one (one
    /// allocation); a layer of rate policies alone allocates nothing.
    pub fn in_flight(name: &str, limiter: impl Into<Arc<ConcurrencyLimiter>>) -> Self {
        Self {
            name: sanitize_name(name).into(),
            backend: Backend::InFlight(InFlight::All(limiter.into())),
        }
    }

    /// An in-flight limit per key (nginx `limit_conn`): at most
    /// [`max`](KeyedConcurrencyLimiter::max) requests of one client (the layer's
    /// [key](super::RateLimitLayer::key)) inside the inner service at once. A new
    /// key that finds no room in the limiter's table is refused as if full. See
    /// [`in_flight`](Self::in_flight) for when a permit is taken and given back
    /// and what a refusal looks like.
    pub fn in_flight_keyed(name: &str, limiter: impl Into<Arc<KeyedConcurrencyLimiter>>) -> Self {
        Self {
            name: sanitize_name(name).into(),
            backend: Backend::InFlight(InFlight::Keyed(limiter.into())),
        }
    }

    /// The in-flight limit, if this is an in-flight policy.
    pub(crate) fn as_in_flight(&self) -> Option<&InFlight> {
        match &self.backend {
            Backend::InFlight(f) => Some(f),
            _ => None,
        }
    }

    /// Each quota's name and peek, for `RateLimit-Policy`: the policy's own name
    /// for one quota, `name-i` for the quotas of a stack.
    pub(crate) fn quota_items(&self, key: &Key) -> Vec<(Arc<str>, Decision)> {
        let peeks = match &self.backend {
            Backend::Local(c) => c.quota_peeks(key),
            Backend::InFlight(_) => Vec::new(),
            #[cfg(feature = "redis")]
            Backend::Redis(r) => vec![r.failure_decision()],
        };
        if peeks.len() == 1 {
            return peeks.into_iter().map(|d| (self.name.clone(), d)).collect();
        }
        peeks
            .into_iter()
            .enumerate()
            .map(|(i, d)| (Arc::from(format!("{}-{i}", self.name)), d))
            .collect()
    }

    fn local(name: &str, lim: Arc<dyn Check>) -> Self {
        Self {
            name: sanitize_name(name).into(),
            backend: Backend::Local(lim),
        }
    }

    /// The policy's name, as sent in the header fields.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether admitted requests are delayed ([`Algorithm::LeakyBucket`]).
    pub fn is_shaping(&self) -> bool {
        self.algorithm() == Algorithm::LeakyBucket
    }

    fn algorithm(&self) -> Algorithm {
        match &self.backend {
            Backend::Local(c) => c.algorithm(),
            #[cfg(feature = "redis")]
            Backend::Redis(r) => r.algorithm(),
            Backend::InFlight(_) => Algorithm::default(),
        }
    }

    pub(crate) fn peek_n(&self, key: &Key, n: u32) -> Result<Decision, InsufficientCapacity> {
        match &self.backend {
            Backend::Local(c) => c.peek_n(key, n),
            // Never asked: a layer with a Redis policy decides on its async path.
            #[cfg(feature = "redis")]
            Backend::Redis(r) => Ok(r.failure_decision()),
            Backend::InFlight(f) => Ok(f.decision(key)),
        }
    }

    pub(crate) fn check_n(&self, key: &Key, n: u32) -> Result<Decision, InsufficientCapacity> {
        match &self.backend {
            Backend::Local(c) => c.check_n(key, n),
            // Never asked: a layer with a Redis policy decides on its async path.
            #[cfg(feature = "redis")]
            Backend::Redis(r) => Ok(r.failure_decision()),
            Backend::InFlight(f) => Ok(f.decision(key)),
        }
    }

    pub(crate) fn peek(&self, key: &Key) -> Decision {
        match &self.backend {
            Backend::Local(c) => c.peek(key),
            // The limit and the window, for `RateLimit-Policy`.
            #[cfg(feature = "redis")]
            Backend::Redis(r) => r.failure_decision(),
            Backend::InFlight(f) => f.decision(key),
        }
    }

    fn too_costly(&self, i: usize, key: &Key, error: InsufficientCapacity) -> Verdict {
        Verdict::TooCostly {
            policy: i,
            max: error.max,
            decision: self.peek(key),
        }
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

/// One decision per policy, in order; a single policy's without allocating.
#[derive(Clone, Debug)]
pub(crate) enum DecisionList {
    One(Decision),
    Many(Vec<Decision>),
}

impl DecisionList {
    pub(crate) fn as_slice(&self) -> &[Decision] {
        match self {
            Self::One(d) => core::slice::from_ref(d),
            Self::Many(v) => v,
        }
    }
}

/// What a stack of policies answered for one request.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Every policy admitted.
    Admitted(DecisionList),
    /// The policies at `violated` denied; `decisions` as for `Admitted`.
    Denied {
        decisions: Vec<Decision>,
        violated: Vec<usize>,
    },
    /// The cost exceeds `max`, the most policy `policy` can ever admit;
    /// `decision` is its peek.
    TooCostly {
        policy: usize,
        max: u32,
        decision: Decision,
    },
}

/// Checks `key` at `cost` against every policy, all or nothing: each policy is
/// peeked first and nothing is consumed unless all would admit. A race between the
/// peeks and the checks can deny after an earlier policy consumed, so under
/// concurrency the stack admits less than each policy alone would, never more.
pub(crate) fn check_all(policies: &[Policy], key: &Key, cost: u32) -> Verdict {
    // One policy needs no peek: its own check is all or nothing.
    if let [only] = policies {
        return match only.check_n(key, cost) {
            Ok(d) if d.is_allowed() => Verdict::Admitted(DecisionList::One(d)),
            Ok(d) => Verdict::Denied {
                decisions: vec![d],
                violated: vec![0],
            },
            Err(error) => only.too_costly(0, key, error),
        };
    }
    let mut decisions = Vec::with_capacity(policies.len());
    for (i, p) in policies.iter().enumerate() {
        match p.peek_n(key, cost) {
            Ok(d) => decisions.push(d),
            Err(error) => return p.too_costly(i, key, error),
        }
    }
    let violated: Vec<usize> = (0..decisions.len())
        .filter(|&i| !decisions[i].is_allowed())
        .collect();
    if !violated.is_empty() {
        return Verdict::Denied {
            decisions,
            violated,
        };
    }
    for (i, p) in policies.iter().enumerate() {
        match p.check_n(key, cost) {
            Ok(d) => {
                decisions[i] = d;
                if !d.is_allowed() {
                    return Verdict::Denied {
                        decisions,
                        violated: vec![i],
                    };
                }
            }
            Err(error) => return p.too_costly(i, key, error),
        }
    }
    Verdict::Admitted(DecisionList::Many(decisions))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ManualClock, Quota};

    fn keyed(q: &str, clock: &ManualClock) -> Arc<Limiter<ManualClock>> {
        Arc::new(
            Limiter::builder(q.parse::<Quota>().unwrap())
                .capacity(1024)
                .clock(clock.clone())
                .build()
                .unwrap(),
        )
    }

    #[test]
    fn a_denial_by_one_policy_consumes_from_none() {
        let clock = ManualClock::new();
        let (short, long) = (keyed("2/s", &clock), keyed("3/h", &clock));
        let stack = [
            Policy::keyed("short", short.clone()),
            Policy::keyed("long", long.clone()),
        ];
        let k = Key::Global;
        assert!(matches!(check_all(&stack, &k, 1), Verdict::Admitted(_)));
        assert!(matches!(check_all(&stack, &k, 1), Verdict::Admitted(_)));
        match check_all(&stack, &k, 1) {
            Verdict::Denied { violated, .. } => assert_eq!(violated, [0]),
            v => panic!("{v:?}"),
        }
        // The denial by "short" left "long" one of three: a check would still pass
        // (and leave none).
        let d = long.peek(&k);
        assert!(d.is_allowed());
        assert_eq!(d.remaining(), 0);
        assert!(matches!(
            check_all(&stack, &k, 4),
            Verdict::TooCostly { policy: 0, .. }
        ));
    }
}
