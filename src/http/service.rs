//! The per-request work: exempt, key, check, then answer 429 or call through.

use super::denied::{key_error_response, Denied};
use super::fields::{
    number_value, ratelimit_value, retry_after_secs, secs_ceil, RATELIMIT, RATELIMIT_POLICY,
    RETRY_AFTER, X_RATELIMIT_LIMIT, X_RATELIMIT_REMAINING, X_RATELIMIT_RESET,
};
use super::in_flight::{acquire_all, refusal, Permits};
use super::key::Key;
use super::layer::Config;
use super::observe::{log_denied, log_key_error, Metrics};
use super::policy::{check_all, DecisionList, Verdict};
use crate::decision::Decision;
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tower_service::Service;

/// The service [`RateLimitLayer`](super::RateLimitLayer) wraps around an inner one.
#[derive(Clone, Debug)]
pub struct RateLimit<S> {
    inner: S,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: Arc<Config>,
    metrics: Metrics,
}

/// Every policy's decision for an admitted request, in the request's extensions.
///
/// ```
/// # use ratecell::http::Decisions;
/// async fn handler(req: http::Request<String>) -> String {
///     let left = req
///         .extensions()
///         .get::<Decisions>()
///         .and_then(|d| d.most_restrictive())
///         .map_or(0, |(_, d)| d.remaining());
///     format!("{left} left")
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Decisions {
    names: Arc<[Arc<str>]>,
    decisions: DecisionList,
}

impl Decisions {
    /// `(policy name, decision)` for every policy, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Decision)> + '_ {
        self.names
            .iter()
            .map(|n| &**n)
            .zip(self.decisions.as_slice())
    }

    /// The decision of the policy named `name`.
    pub fn get(&self, name: &str) -> Option<&Decision> {
        self.iter().find(|(n, _)| *n == name).map(|(_, d)| d)
    }

    /// The policy with the fewest requests remaining (the first of equals).
    pub fn most_restrictive(&self) -> Option<(&str, &Decision)> {
        self.iter().min_by_key(|(_, d)| d.remaining())
    }
}

/// What to do with a request.
enum Step {
    /// Exempt: call through untouched.
    Pass,
    /// Answer without calling the inner service.
    Respond(Response<String>),
    /// Call through after `delay`, then add `fields` (none when only in-flight
    /// policies are set) to the response; `permits` travel with the response
    /// future.
    Admit {
        permits: Option<Permits>,
        decisions: Option<Decisions>,
        delay: Duration,
        fields: Option<AdmittedFields>,
    },
    /// Ask Redis first: the async path.
    #[cfg(feature = "redis")]
    Remote {
        key: Key,
        cost: u32,
        permits: Permits,
    },
}

/// The header fields the layer adds to an admitted response (a fixed set, so no
/// list is allocated); a field the response already has is left alone.
#[derive(Debug)]
pub struct AdmittedFields {
    policy: HeaderValue,
    ratelimit: Option<HeaderValue>,
    legacy: Option<Box<[HeaderValue; 3]>>,
}

impl<S> RateLimit<S> {
    pub(crate) fn new(inner: S, config: Arc<Config>, metrics: Metrics) -> Self {
        Self {
            inner,
            shared: Arc::new(Shared { config, metrics }),
        }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl Shared {
    fn step(&self, parts: &Parts) -> Step {
        let c = &*self.config;
        let client = if c.needs_client_ip() {
            c.client.resolve(parts)
        } else {
            None
        };
        if c.is_exempt(parts, client) {
            self.metrics.exempt();
            return Step::Pass;
        }
        let Some(key) = c.key.extract(parts, client, &c.client) else {
            self.metrics.key_error();
            return Step::Respond(match &c.on_key_error {
                Some(f) => f(parts),
                None => {
                    log_key_error();
                    key_error_response()
                }
            });
        };
        let cost = c.cost.as_ref().map_or(1, |f| f(parts));
        // Redis first among the steps: its round trips need the async path,
        // which also holds the in-flight permits taken here.
        #[cfg(feature = "redis")]
        if c.remote {
            let permits = match acquire_all(&c.in_flight, &key) {
                Ok(permits) => permits,
                Err(i) => return self.in_flight_full(&key, i),
            };
            return Step::Remote { key, cost, permits };
        }
        if !c.in_flight.is_empty() {
            return self.held(&key, cost);
        }
        self.rate(&key, cost)
    }

    /// The rate policies' answer: admit, or deny (429).
    fn rate(&self, key: &Key, cost: u32) -> Step {
        self.conclude(key, cost, check_all(&self.config.policies, key, cost))
    }

    /// The answer to the policies' verdict.
    fn conclude(&self, key: &Key, cost: u32, verdict: Verdict) -> Step {
        let c = &*self.config;
        match verdict {
            Verdict::Admitted(decisions) => {
                self.metrics.admitted();
                self.admit(decisions, &[])
            }
            Verdict::Denied {
                decisions,
                violated,
            } => self.deny(key, cost, &decisions, &violated, None),
            Verdict::TooCostly {
                policy,
                max,
                decision,
            } => {
                let decisions = vec![decision; c.policies.len()];
                self.deny(key, cost, &decisions, &[policy], Some(max))
            }
        }
    }

    /// With in-flight policies: a permit of each first (a refusal consumes no
    /// rate), then the rate policies (a denial gives the permits back at once).
    fn held(&self, key: &Key, cost: u32) -> Step {
        let c = &*self.config;
        let permits = match acquire_all(&c.in_flight, key) {
            Ok(permits) => permits,
            Err(i) => return self.in_flight_full(key, i),
        };
        if c.policies.is_empty() {
            return Step::Admit {
                permits: Some(permits),
                decisions: None,
                delay: Duration::ZERO,
                fields: None,
            };
        }
        match self.rate(key, cost) {
            Step::Admit {
                decisions,
                delay,
                fields,
                ..
            } => Step::Admit {
                permits: Some(permits),
                decisions,
                delay,
                fields,
            },
            denied => denied,
        }
    }

    /// The refusal by in-flight policy `i`: `RateLimit-Policy` lists the rate
    /// quotas as on every answer, but no `RateLimit` (no rate was checked, and a
    /// peek tells what would be left after one more request, not what is left
    /// now), nor `Retry-After` (no one knows when a request in flight ends).
    fn in_flight_full(&self, key: &Key, i: usize) -> Step {
        let c = &*self.config;
        let name = &c.in_flight[i].name;
        log_denied(key, core::slice::from_ref(name), c.log_keys);
        let mut res = refusal(c.in_flight_status, name);
        if !c.policies.is_empty() {
            set_default(res.headers_mut(), RATELIMIT_POLICY, c.policy_field.clone());
        }
        Step::Respond(res)
    }

    /// The 429 (or the handler's answer) for a request the policies at `violated`
    /// denied; `never` is the most a policy can ever admit when the cost exceeds it.
    fn deny(
        &self,
        key: &Key,
        cost: u32,
        decisions: &[Decision],
        violated: &[usize],
        never: Option<u32>,
    ) -> Step {
        let c = &*self.config;
        self.metrics.denied(violated);
        // The reported policy is the one that makes the client wait longest.
        let worst = violated
            .iter()
            .copied()
            .max_by_key(|&i| decisions[i].retry_after())
            .unwrap_or(0);
        let denied = Denied {
            violated: violated
                .iter()
                .map(|&i| c.field_name(i, &decisions[i]).clone())
                .collect(),
            policy: c.field_name(worst, &decisions[worst]).clone(),
            decision: decisions[worst],
            cost,
            never,
        };
        log_denied(key, &denied.violated, c.log_keys);
        let mut res = match &c.on_denied {
            Some(f) => f(&denied),
            None => denied.default_response(),
        };
        let h = res.headers_mut();
        if let Some(wait) = denied.retry_after() {
            set_default(h, RETRY_AFTER, number_value(retry_after_secs(wait)));
        }
        self.fields(worst, &decisions[worst]).add_to(h);
        Step::Respond(res)
    }

    /// Admits with every policy's decision; those at `failed` (Redis policies that
    /// failed open) say nothing about the quota, so the fields skip them.
    fn admit(&self, list: DecisionList, failed: &[usize]) -> Step {
        let c = &*self.config;
        let decisions = list.as_slice();
        let delay = if c.shaping {
            decisions
                .iter()
                .map(Decision::delay)
                .max()
                .unwrap_or_default()
        } else {
            Duration::ZERO
        };
        let worst = (0..decisions.len())
            .filter(|i| !failed.contains(i))
            .min_by_key(|&i| decisions[i].remaining());
        let fields = match worst {
            Some(i) => self.fields(i, &decisions[i]),
            None => AdmittedFields {
                policy: c.policy_field.clone(),
                ratelimit: None,
                legacy: None,
            },
        };
        Step::Admit {
            permits: None,
            decisions: c.decisions_extension.then(|| Decisions {
                names: c.names.clone(),
                decisions: list,
            }),
            delay,
            fields: Some(fields),
        }
    }

    /// `RateLimit-Policy` (every policy), `RateLimit` (policy `i`), and the legacy
    /// trio if asked.
    fn fields(&self, i: usize, d: &Decision) -> AdmittedFields {
        let c = &*self.config;
        AdmittedFields {
            policy: c.policy_field.clone(),
            ratelimit: Some(ratelimit_value(c.field_name(i, d), d)),
            legacy: c.legacy_fields.then(|| {
                Box::new([
                    number_value(u64::from(d.limit())),
                    number_value(u64::from(d.remaining())),
                    number_value(secs_ceil(d.reset_after())),
                ])
            }),
        }
    }
}

const LEGACY: [HeaderName; 3] = [X_RATELIMIT_LIMIT, X_RATELIMIT_REMAINING, X_RATELIMIT_RESET];

impl AdmittedFields {
    /// Adds the fields a response does not already have.
    fn add_to(self, h: &mut HeaderMap) {
        set_default(h, RATELIMIT_POLICY, self.policy);
        if let Some(value) = self.ratelimit {
            set_default(h, RATELIMIT, value);
        }
        if let Some(legacy) = self.legacy {
            for (name, value) in LEGACY.into_iter().zip(*legacy) {
                set_default(h, name, value);
            }
        }
    }
}

/// Adds a field unless the response has it. A scan and an append: a response
/// head has few fields, comparing names costs less than hashing them, and the
/// entry API's vacant insert costs more than a lookup and an append together.
fn set_default(h: &mut HeaderMap, name: HeaderName, value: HeaderValue) {
    let present = if h.keys_len() <= 8 {
        h.keys().any(|k| *k == name)
    } else {
        h.contains_key(&name)
    };
    if !present {
        h.append(name, value);
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RateLimit<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let (parts, body) = req.into_parts();
        match self.shared.step(&parts) {
            Step::Pass => {
                ResponseFuture::call(self.inner.call(Request::from_parts(parts, body)), None)
            }
            Step::Respond(res) => ResponseFuture::ready(Ok(res.map(ResBody::from))),
            Step::Admit {
                permits,
                decisions,
                delay,
                fields,
            } => {
                let mut req = Request::from_parts(parts, body);
                if let Some(decisions) = decisions {
                    req.extensions_mut().insert(decisions);
                }
                // In-flight permits live in the future: given back when it completes
                // (the response head is ready) or is dropped (the client left).
                match permits {
                    None if delay.is_zero() => ResponseFuture::call(self.inner.call(req), fields),
                    permits if delay.is_zero() => {
                        let call = self.inner.call(req);
                        ResponseFuture::boxed(async move {
                            let _permits = permits;
                            add_fields(call.await, fields)
                        })
                    }
                    permits => {
                        // The call happens after the sleep: it takes the service that
                        // was polled ready and leaves a clone in its place.
                        let clone = self.inner.clone();
                        let mut inner = std::mem::replace(&mut self.inner, clone);
                        ResponseFuture::boxed(async move {
                            let _permits = permits;
                            tokio::time::sleep(delay).await;
                            add_fields(inner.call(req).await, fields)
                        })
                    }
                }
            }
            #[cfg(feature = "redis")]
            Step::Remote { key, cost, permits } => {
                // As for a delay: the call happens later, on the service polled ready.
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                let req = Request::from_parts(parts, body);
                ResponseFuture::boxed(call_remote(
                    self.shared.clone(),
                    inner,
                    req,
                    key,
                    cost,
                    permits,
                ))
            }
        }
    }
}

impl Shared {
    /// The answer for a stack with Redis policies, after the round trips.
    #[cfg(feature = "redis")]
    async fn conclude_remote(&self, key: &Key, cost: u32) -> Step {
        use super::remote::{check_all, unavailable_response, RemoteVerdict};
        match check_all(&self.config.policies, key, cost).await {
            RemoteVerdict::Unavailable { policy } => {
                self.metrics.failed(&[policy]);
                Step::Respond(unavailable_response())
            }
            RemoteVerdict::Decided { verdict, failed } if !failed.is_empty() => {
                self.metrics.failed(&failed);
                match verdict {
                    Verdict::Admitted(decisions) => {
                        self.metrics.admitted_except(&failed);
                        self.admit(decisions, &failed)
                    }
                    v => self.conclude(key, cost, v),
                }
            }
            RemoteVerdict::Decided { verdict, .. } => self.conclude(key, cost, verdict),
        }
    }
}

/// The async path: the Redis round trips, then the answer or the inner call.
#[cfg(feature = "redis")]
async fn call_remote<S, ReqBody, ResBody>(
    shared: Arc<Shared>,
    mut inner: S,
    mut req: Request<ReqBody>,
    key: Key,
    cost: u32,
    permits: Permits,
) -> Answer<ResBody, S::Error>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: From<String>,
{
    // The in-flight permits, if any, are held until the answer is ready.
    let _permits = permits;
    match shared.conclude_remote(&key, cost).await {
        Step::Admit {
            decisions,
            delay,
            fields,
            ..
        } => {
            if let Some(decisions) = decisions {
                req.extensions_mut().insert(decisions);
            }
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            add_fields(inner.call(req).await, fields)
        }
        Step::Respond(res) => Ok(res.map(ResBody::from)),
        // `conclude_remote` admits or answers; these two only come from `step`.
        Step::Pass | Step::Remote { .. } => inner.call(req).await,
    }
}

type Answer<B, E> = Result<Response<B>, E>;
type Boxed<B, E> = Pin<Box<dyn Future<Output = Answer<B, E>> + Send>>;

pin_project! {
    /// The future of [`RateLimit`]: the inner service's own future (with the fields
    /// to add when admitted), a ready answer when denied, and a boxed future for a
    /// leaky-bucket delay, a request holding in-flight permits, or a layer holding
    /// a Redis policy. No allocation on the first two paths.
    pub struct ResponseFuture<F, B, E> {
        #[pin]
        state: State<F, B, E>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B, E> {
        // A flat enum rather than nested combinators: the future is moved into
        // axum's box on every request, and a smaller one moves faster.
        Call {
            #[pin]
            future: F,
            fields: Option<AdmittedFields>,
        },
        Ready {
            answer: Option<Answer<B, E>>,
        },
        Boxed {
            future: Boxed<B, E>,
        },
    }
}

impl<F, B, E> ResponseFuture<F, B, E> {
    fn call(future: F, fields: Option<AdmittedFields>) -> Self {
        Self {
            state: State::Call { future, fields },
        }
    }

    fn ready(answer: Answer<B, E>) -> Self {
        Self {
            state: State::Ready {
                answer: Some(answer),
            },
        }
    }

    fn boxed(future: impl Future<Output = Answer<B, E>> + Send + 'static) -> Self {
        Self {
            state: State::Boxed {
                future: Box::pin(future),
            },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B, E>
where
    F: Future<Output = Answer<B, E>>,
{
    type Output = Answer<B, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Call { future, fields } => {
                let answer = std::task::ready!(future.poll(cx));
                Poll::Ready(add_fields(answer, fields.take()))
            }
            // Polling a completed future is a caller's bug, as for any future.
            StateProj::Ready { answer } => Poll::Ready(
                answer
                    .take()
                    .expect("ResponseFuture polled after completion"),
            ),
            StateProj::Boxed { future } => future.as_mut().poll(cx),
        }
    }
}

impl<F, B, E> std::fmt::Debug for ResponseFuture<F, B, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResponseFuture")
    }
}

fn add_fields<B, E>(answer: Answer<B, E>, fields: Option<AdmittedFields>) -> Answer<B, E> {
    match fields {
        Some(fields) => answer.map(|mut res| {
            fields.add_to(res.headers_mut());
            res
        }),
        None => answer,
    }
}
