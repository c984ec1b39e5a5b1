//! The layer's configuration: policies, key, trusted proxies, exemptions, cost and
//! the handlers of denials and key failures.

use super::denied::Denied;
use super::fields::{text_value, write_policy_item};
use super::key::{contains, ClientIp, ForwardedHeader, Key, KeyExtractor};
use super::observe::Metrics;
use super::policy::Policy;
use super::service::RateLimit;
use http::request::Parts;
use http::{HeaderValue, Method, Response, StatusCode};
use ipnet::IpNet;
use std::fmt;
use std::sync::Arc;

type Predicate = dyn Fn(&Parts) -> bool + Send + Sync;
type CostFn = dyn Fn(&Parts) -> u32 + Send + Sync;
type DeniedFn = dyn Fn(&Denied) -> Response<String> + Send + Sync;
type KeyErrorFn = dyn Fn(&Parts) -> Response<String> + Send + Sync;

/// A tower [`Layer`](tower_layer::Layer) that rate-limits requests.
///
/// For each request it finds the client (peer address by default; behind trusted
/// proxies only, the forwarded address), skips exempt requests, charges the cost
/// to every policy all or nothing, and then either answers 429 (`Retry-After`,
/// `RateLimit-Policy`, `RateLimit` and an RFC 9457 problem body) or calls the inner
/// service, with the [`Decisions`](super::Decisions) in the request's extensions
/// and the `RateLimit-Policy` and `RateLimit` fields added to its response. A
/// leaky-bucket policy delays admitted requests by their
/// [`delay`](crate::Decision::delay) first.
///
/// The inner service's response body must be buildable from a `String` (axum's
/// `Body`, `http_body_util::Full<Bytes>`).
#[derive(Clone)]
pub struct RateLimitLayer {
    config: Arc<Config>,
}

#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) policies: Vec<Policy>,
    pub(crate) names: Arc<[Arc<str>]>,
    pub(crate) policy_field: HeaderValue,
    pub(crate) key: KeyExtractor,
    pub(crate) client: ClientIp,
    pub(crate) exempt_paths: Vec<String>,
    pub(crate) exempt_methods: Vec<Method>,
    pub(crate) exempt_clients: Vec<IpNet>,
    pub(crate) exempt_if: Option<Arc<Predicate>>,
    pub(crate) cost: Option<Arc<CostFn>>,
    pub(crate) on_denied: Option<Arc<DeniedFn>>,
    pub(crate) on_key_error: Option<Arc<KeyErrorFn>>,
    pub(crate) legacy_fields: bool,
    pub(crate) log_keys: bool,
    pub(crate) decisions_extension: bool,
    pub(crate) shaping: bool,
    /// Some policy lives in Redis: requests take the async path.
    #[cfg(feature = "redis")]
    pub(crate) remote: bool,
    /// The in-flight policies ([`Policy::in_flight`]), apart from the rate ones.
    pub(crate) in_flight: Vec<Policy>,
    pub(crate) in_flight_status: StatusCode,
    /// Each rate policy's quota names (`name-i` for a stack's); empty unless a
    /// policy is a stack of several, the policy names serving otherwise.
    pub(crate) quota_names: Vec<Box<[Arc<str>]>>,
}

impl RateLimitLayer {
    /// A layer enforcing `policy`; add more with [`policy`](Self::policy).
    pub fn new(policy: Policy) -> Self {
        let mut config = Config {
            policies: Vec::new(),
            names: Arc::new([]),
            policy_field: HeaderValue::from_static(""),
            key: KeyExtractor::ClientIp,
            client: ClientIp::default(),
            exempt_paths: Vec::new(),
            exempt_methods: Vec::new(),
            exempt_clients: Vec::new(),
            exempt_if: None,
            cost: None,
            on_denied: None,
            on_key_error: None,
            legacy_fields: false,
            log_keys: false,
            decisions_extension: true,
            shaping: false,
            #[cfg(feature = "redis")]
            remote: false,
            in_flight: Vec::new(),
            in_flight_status: StatusCode::SERVICE_UNAVAILABLE,
            quota_names: Vec::new(),
        };
        config.add_policy(policy);
        Self {
            config: Arc::new(config),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut Config)) -> Self {
        f(Arc::make_mut(&mut self.config));
        self
    }

    /// Adds a policy: a request passes only if every policy admits it, and a
    /// request denied by one consumes from none. An in-flight policy
    /// ([`Policy::in_flight`]) gives the request a permit, taken before the rate
    /// policies are checked and held until its response is ready.
    pub fn policy(self, policy: Policy) -> Self {
        self.edit(|c| c.add_policy(policy))
    }

    /// How requests are keyed (default [`KeyExtractor::ClientIp`]).
    pub fn key(self, key: KeyExtractor) -> Self {
        self.edit(|c| c.key = key)
    }

    /// The proxies whose forwarded client address is believed. A request from any
    /// other peer is keyed by the peer address whatever its headers say. Behind a
    /// trusted peer the forwarded chain is read from the right, and the first
    /// address outside these networks is the client.
    pub fn trust_proxies(self, networks: impl IntoIterator<Item = IpNet>) -> Self {
        self.edit(|c| c.client.trusted.extend(networks))
    }

    /// Which header trusted proxies report the client in (default
    /// `X-Forwarded-For`).
    pub fn forwarded_header(self, header: ForwardedHeader) -> Self {
        self.edit(|c| c.client.header = header)
    }

    /// IPv6 clients are keyed by their first `bits` (default 64: one host cannot
    /// dodge its limit by rotating addresses within its /64).
    pub fn ipv6_prefix(self, bits: u8) -> Self {
        self.edit(|c| c.client.v6_prefix = bits.min(128))
    }

    /// IPv4 clients are keyed by their first `bits` (default 32).
    pub fn ipv4_prefix(self, bits: u8) -> Self {
        self.edit(|c| c.client.v4_prefix = bits.min(32))
    }

    /// Requests whose path is `prefix` or lies under it (`/health` covers
    /// `/health` and `/health/db`, not `/healthy`) are not limited.
    pub fn exempt_path(self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        self.edit(|c| c.exempt_paths.push(prefix))
    }

    /// Requests with this method are not limited.
    pub fn exempt_method(self, method: Method) -> Self {
        self.edit(|c| c.exempt_methods.push(method))
    }

    /// Requests from clients in this network (after trusted-proxy resolution) are
    /// not limited.
    pub fn exempt_client(self, network: IpNet) -> Self {
        self.edit(|c| c.exempt_clients.push(network))
    }

    /// Requests for which `f` answers true are not limited.
    pub fn exempt_if(self, f: impl Fn(&Parts) -> bool + Send + Sync + 'static) -> Self {
        self.edit(|c| c.exempt_if = Some(Arc::new(f)))
    }

    /// The cost of a request (default 1). A cost of 0 consumes nothing.
    pub fn cost(self, f: impl Fn(&Parts) -> u32 + Send + Sync + 'static) -> Self {
        self.edit(|c| c.cost = Some(Arc::new(f)))
    }

    /// Replaces the 429 problem response; the layer still adds `Retry-After`,
    /// `RateLimit-Policy` and `RateLimit` unless the handler set them.
    pub fn on_denied(
        self,
        f: impl Fn(&Denied) -> Response<String> + Send + Sync + 'static,
    ) -> Self {
        self.edit(|c| c.on_denied = Some(Arc::new(f)))
    }

    /// Replaces the answer to a request whose key cannot be extracted (default 500
    /// and one log line).
    pub fn on_key_error(
        self,
        f: impl Fn(&Parts) -> Response<String> + Send + Sync + 'static,
    ) -> Self {
        self.edit(|c| c.on_key_error = Some(Arc::new(f)))
    }

    /// Also sends `X-RateLimit-Limit`, `-Remaining` and `-Reset` (default off).
    pub fn legacy_fields(self, on: bool) -> Self {
        self.edit(|c| c.legacy_fields = on)
    }

    /// Lets log lines (feature `tracing`) carry the key; off by default, since keys
    /// are client addresses or credentials.
    pub fn log_keys(self, on: bool) -> Self {
        self.edit(|c| c.log_keys = on)
    }

    /// Whether admitted requests carry the [`Decisions`](super::Decisions) in their
    /// extensions (default on). Off saves an allocation per request, and the growth
    /// of axum's extension map it often causes, for servers whose handlers never
    /// read them.
    pub fn decisions_extension(self, on: bool) -> Self {
        self.edit(|c| c.decisions_extension = on)
    }

    /// The status of a request refused by an in-flight policy
    /// ([`Policy::in_flight`]): `503 Service Unavailable` by default; `429 Too
    /// Many Requests` is the other usual choice.
    pub fn in_flight_status(self, status: StatusCode) -> Self {
        self.edit(|c| c.in_flight_status = status)
    }

    /// The rate policies, in the order they are checked.
    pub fn policies(&self) -> &[Policy] {
        &self.config.policies
    }

    /// The in-flight policies, in the order their permits are taken.
    pub fn in_flight_policies(&self) -> &[Policy] {
        &self.config.in_flight
    }
}

impl Config {
    fn add_policy(&mut self, policy: Policy) {
        if policy.as_in_flight().is_some() {
            self.in_flight.push(policy);
            return;
        }
        self.policies.push(policy);
        self.names = self.policies.iter().map(|p| p.name.clone()).collect();
        self.shaping = self.policies.iter().any(Policy::is_shaping);
        #[cfg(feature = "redis")]
        {
            self.remote = self.policies.iter().any(|p| p.remote().is_some());
        }
        // A peek's limit and window are the policy's own, whatever the key's state.
        let mut field = String::new();
        let mut quota_names: Vec<Box<[Arc<str>]>> = Vec::with_capacity(self.policies.len());
        for p in &self.policies {
            let items = p.quota_items(&Key::Global);
            for (name, d) in &items {
                write_policy_item(&mut field, name, d);
            }
            quota_names.push(items.into_iter().map(|(name, _)| name).collect());
        }
        self.policy_field = text_value(field);
        let stacked = quota_names.iter().any(|q| q.len() > 1);
        self.quota_names = if stacked { quota_names } else { Vec::new() };
    }

    /// The name `RateLimit` gives policy `i`'s decision `d`: a stack's deciding
    /// quota's, else the policy's.
    pub(crate) fn field_name(&self, i: usize, d: &crate::Decision) -> &Arc<str> {
        self.quota_names
            .get(i)
            .and_then(|q| q.get(d.quota_index()))
            .unwrap_or(&self.names[i])
    }

    /// Whether the request skips the limit.
    pub(crate) fn is_exempt(&self, parts: &Parts, client: Option<std::net::IpAddr>) -> bool {
        let path = parts.uri.path();
        self.exempt_paths.iter().any(|p| under(path, p))
            || self.exempt_methods.contains(&parts.method)
            || client.is_some_and(|ip| self.exempt_clients.iter().any(|n| contains(n, ip)))
            || self.exempt_if.as_ref().is_some_and(|f| f(parts))
    }

    pub(crate) fn needs_client_ip(&self) -> bool {
        self.key.needs_client_ip() || !self.exempt_clients.is_empty()
    }
}

/// Whether `path` is `prefix` or below it, segment-wise.
fn under(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/') || prefix.ends_with('/'),
        None => false,
    }
}

impl<S> tower_layer::Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> RateLimit<S> {
        let metrics = Metrics::new(&self.config.names);
        #[cfg(feature = "redis")]
        let metrics = {
            let c = &self.config;
            let fallible: Vec<usize> = (0..c.policies.len())
                .filter(|&i| c.policies[i].remote().is_some())
                .collect();
            metrics.with_failures(&c.names, &fallible)
        };
        RateLimit::new(inner, self.config.clone(), metrics)
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("policies", &self.policies)
            .field("in_flight", &self.in_flight)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RateLimitLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        f.debug_struct("RateLimitLayer")
            .field("policies", &c.policies)
            .field("in_flight", &c.in_flight)
            .field("key", &c.key)
            .field("client", &c.client)
            .field("exempt_paths", &c.exempt_paths)
            .field("exempt_methods", &c.exempt_methods)
            .field("exempt_clients", &c.exempt_clients)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::under;

    #[test]
    fn path_prefixes_match_whole_segments() {
        assert!(under("/health", "/health"));
        assert!(under("/health/db", "/health"));
        assert!(!under("/healthy", "/health"));
        assert!(under("/static/x.css", "/static/"));
        assert!(!under("/", "/health"));
    }
}
