//! Builders: configuration is checked once, at `build`, into typed errors.

use crate::algorithm::{Algorithm, Params};
use crate::clock::{Clock, DefaultClock};
use crate::error::BuildError;
use crate::limiter::DirectLimiter;
use crate::quota::Quota;

/// Configures a [`DirectLimiter`]; made by [`DirectLimiter::builder`].
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until .build()"]
pub struct DirectBuilder<C> {
    quota: Quota,
    algorithm: Algorithm,
    clock: C,
}

impl DirectBuilder<DefaultClock> {
    pub(crate) fn new(quota: Quota) -> Self {
        Self {
            quota,
            algorithm: Algorithm::default(),
            clock: DefaultClock::default(),
        }
    }
}

impl<C> DirectBuilder<C> {
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
        }
    }
}

impl<C: Clock> DirectBuilder<C> {
    /// Validates the configuration and builds the limiter.
    pub fn build(self) -> Result<DirectLimiter<C>, BuildError> {
        let params = Params::new(self.algorithm, &self.quota)?;
        Ok(DirectLimiter::from_parts(params, self.quota, self.clock))
    }
}
