//! Configuration files (feature `serde`): [`Quota`] (de)serializes as the string
//! its parser takes (`"100/minute"`), [`Algorithm`] and
//! [`FullPolicy`] as kebab-case names
//! (`"sliding-window-counter"`, `"evict-soonest-expiring"`), and
//! [`LimiterConfig`] holds one limiter's settings, so that a TOML or JSON file
//! configures limits per route and per plan.
//!
//! ```
//! use ratecell::config::LimiterConfig;
//! use ratecell::ManualClock;
//!
//! let config: LimiterConfig = toml::from_str(r#"
//!     quota = "10/second; 1000/day"
//!     algorithm = "sliding-window-counter"
//!     capacity = 10000
//! "#)?;
//! let stack = config.stacked_builder()?.clock(ManualClock::new()).build()?;
//! assert!(stack.check("user:42").is_allowed());
//!
//! // A bad value is an error naming the field.
//! let bad = toml::from_str::<LimiterConfig>(r#"quota = "10/fortnight""#).unwrap_err();
//! assert!(bad.to_string().contains("quota"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::algorithm::Algorithm;
use crate::error::BuildError;
use crate::limiter::{
    Limiter, LimiterBuilder, StackedBuilder, StackedLimiter, Tier, DEFAULT_CAPACITY,
};
use crate::quota::Quota;
use crate::table::FullPolicy;
use crate::{clock::Clock, clock::DefaultClock, store::StateStore};
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use serde::de::{Error as _, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

impl Serialize for Quota {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Quota {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Quota;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a quota such as \"100/minute\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Quota, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// One quota or several, stacked: `"100/minute"` or `"10/second; 1000/day"`
/// ([`Quota::parse_stack`]); serialized joined by `"; "`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quotas(pub Vec<Quota>);

impl Serialize for Quotas {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let parts: Vec<String> = self.0.iter().map(|q| q.to_string()).collect();
        s.serialize_str(&parts.join("; "))
    }
}

impl<'de> Deserialize<'de> for Quotas {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Quota::parse_stack(&s).map(Quotas).map_err(D::Error::custom)
    }
}

fn default_capacity() -> usize {
    DEFAULT_CAPACITY
}

/// A keyed limiter's settings, as a configuration file states them.
///
/// ```toml
/// quota = "10/second; 1000/day"        # one quota, or a stack
/// algorithm = "token-bucket"           # default
/// capacity = 65536                     # live keys (per quota of a stack)
/// full_policy = "evict-soonest-expiring"
/// [tiers]                              # per-key quotas (one quota each)
/// paid = "100/second"
/// ```
///
/// Unknown fields are errors, so a typo is not a silent default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimiterConfig {
    /// The quota, or the stacked quotas.
    pub quota: Quotas,
    /// The algorithm (default: token bucket).
    #[serde(default)]
    pub algorithm: Algorithm,
    /// Live keys the table holds (default
    /// [`DEFAULT_CAPACITY`]).
    #[serde(default = "default_capacity")]
    pub capacity: usize,
    /// What a new key does when its groups are full.
    #[serde(default)]
    pub full_policy: FullPolicy,
    /// Per-key quotas by plan name ([`Tier`]).
    #[serde(default)]
    pub tiers: BTreeMap<String, Quota>,
}

/// A tier of a [`LimiterConfig`] that its limiter cannot hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierConfigError {
    /// The tier's name.
    pub tier: String,
    /// Why.
    pub error: BuildError,
}

impl fmt::Display for TierConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tier {:?}: {}", self.tier, self.error)
    }
}

impl core::error::Error for TierConfigError {}

impl LimiterConfig {
    /// A builder for a [`Limiter`] with these settings (set a clock on it, if you
    /// need one, then `build`).
    ///
    /// # Errors
    ///
    /// [`BuildError::StackSize`] if `quota` holds several quotas: build a
    /// [`StackedLimiter`] with [`stacked_builder`](Self::stacked_builder).
    pub fn builder(&self) -> Result<LimiterBuilder<DefaultClock>, BuildError> {
        let [quota] = self.quota.0[..] else {
            return Err(BuildError::StackSize(self.quota.0.len()));
        };
        Ok(Limiter::builder(quota)
            .algorithm(self.algorithm)
            .capacity(self.capacity)
            .full_policy(self.full_policy))
    }

    /// A builder for a [`StackedLimiter`] with these settings (one quota is a
    /// stack of one).
    ///
    /// # Errors
    ///
    /// None yet; the quotas are checked at `build`. (A `Result` so that a
    /// setting that can fail may be added.)
    pub fn stacked_builder(&self) -> Result<StackedBuilder<DefaultClock>, BuildError> {
        Ok(StackedLimiter::builder(self.quota.0.iter().copied())
            .algorithm(self.algorithm)
            .capacity(self.capacity)
            .full_policy(self.full_policy))
    }

    /// The configured tiers, compiled for `limiter`.
    ///
    /// # Errors
    ///
    /// The first tier (by name) the limiter cannot hold, named.
    pub fn tiers_for<C: Clock, S: StateStore>(
        &self,
        limiter: &Limiter<C, S>,
    ) -> Result<BTreeMap<String, Tier>, TierConfigError> {
        self.tiers
            .iter()
            .map(|(name, &q)| match limiter.tier(q) {
                Ok(t) => Ok((name.clone(), t)),
                Err(error) => Err(TierConfigError {
                    tier: name.clone(),
                    error,
                }),
            })
            .collect()
    }
}
