//! Counters (feature `metrics`) and log lines (feature `tracing`); no-ops without.

use super::key::Key;
use std::sync::Arc;

/// Counters registered once per layer, so a request only increments handles.
#[derive(Clone, Debug, Default)]
pub(crate) struct Metrics {
    #[cfg(feature = "metrics")]
    per_policy: Vec<(metrics::Counter, metrics::Counter)>,
    #[cfg(feature = "metrics")]
    exempt: Option<metrics::Counter>,
    #[cfg(feature = "metrics")]
    key_error: Option<metrics::Counter>,
    /// `(policy index, counter)` for the policies that can fail (Redis).
    #[cfg(all(feature = "metrics", feature = "redis"))]
    failed: Vec<(usize, metrics::Counter)>,
}

/// The counter every outcome is counted under, labelled `policy` and `outcome`.
#[cfg(feature = "metrics")]
pub const REQUESTS_COUNTER: &str = "ratecell_http_requests_total";

impl Metrics {
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn new(names: &[Arc<str>]) -> Self {
        #[cfg(feature = "metrics")]
        {
            let counter = |policy: &str, outcome: &'static str| metrics::counter!(REQUESTS_COUNTER, "policy" => policy.to_string(), "outcome" => outcome);
            Self {
                per_policy: names
                    .iter()
                    .map(|n| (counter(n, "admitted"), counter(n, "denied")))
                    .collect(),
                exempt: Some(counter("", "exempt")),
                key_error: Some(counter("", "key_error")),
                #[cfg(feature = "redis")]
                failed: Vec::new(),
            }
        }
        #[cfg(not(feature = "metrics"))]
        Self::default()
    }

    pub(crate) fn admitted(&self) {
        #[cfg(feature = "metrics")]
        for (admitted, _) in &self.per_policy {
            admitted.increment(1);
        }
    }

    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn denied(&self, violated: &[usize]) {
        #[cfg(feature = "metrics")]
        for &i in violated {
            if let Some((_, denied)) = self.per_policy.get(i) {
                denied.increment(1);
            }
        }
    }

    /// Registers the outcome `failed` for the policies at `fallible`.
    #[cfg(feature = "redis")]
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables, unused_mut))]
    pub(crate) fn with_failures(mut self, names: &[Arc<str>], fallible: &[usize]) -> Self {
        #[cfg(feature = "metrics")]
        {
            self.failed = fallible
                .iter()
                .map(|&i| {
                    let c = metrics::counter!(REQUESTS_COUNTER, "policy" => names[i].to_string(), "outcome" => "failed");
                    (i, c)
                })
                .collect();
        }
        self
    }

    /// Requests the policies at `failed` could not decide (their store did not
    /// answer).
    #[cfg(feature = "redis")]
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn failed(&self, failed: &[usize]) {
        #[cfg(feature = "metrics")]
        for (i, c) in &self.failed {
            if failed.contains(i) {
                c.increment(1);
            }
        }
    }

    /// An admitted request, counted for every policy but those at `failed`.
    #[cfg(feature = "redis")]
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn admitted_except(&self, failed: &[usize]) {
        #[cfg(feature = "metrics")]
        for (i, (admitted, _)) in self.per_policy.iter().enumerate() {
            if !failed.contains(&i) {
                admitted.increment(1);
            }
        }
    }

    pub(crate) fn exempt(&self) {
        #[cfg(feature = "metrics")]
        if let Some(c) = &self.exempt {
            c.increment(1);
        }
    }

    pub(crate) fn key_error(&self) {
        #[cfg(feature = "metrics")]
        if let Some(c) = &self.key_error {
            c.increment(1);
        }
    }
}

/// A denial, at debug level only (a flood must not flood the logs).
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(crate) fn log_denied(key: &Key, policies: &[Arc<str>], log_keys: bool) {
    #[cfg(feature = "tracing")]
    {
        let names: Vec<&str> = policies.iter().map(|p| &**p).collect();
        if log_keys {
            tracing::debug!(key = %key, policies = ?names, "rate limited");
        } else {
            tracing::debug!(policies = ?names, "rate limited");
        }
    }
}

/// A request whose key could not be extracted: one line, at warn level.
pub(crate) fn log_key_error() {
    const MSG: &str = "ratecell: no rate-limit key for a request (no peer address? serve axum \
                       with into_make_service_with_connect_info::<SocketAddr>()); answered 500";
    #[cfg(feature = "tracing")]
    tracing::warn!("{MSG}");
    #[cfg(not(feature = "tracing"))]
    eprintln!("{MSG}");
}
