//! What a Redis-backed limiter does when Redis does not answer: the policy, the
//! error, the health state and the counters.

use crate::sync::{AtomicU32, AtomicU64, Ordering};
use core::fmt;

/// What a check answers when Redis does not (a timeout or a connection error).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Admit the request: an outage of the limiter never becomes an outage of the
    /// service (the default).
    #[default]
    Open,
    /// Deny the request, with a retry time of one second: nothing passes unlimited.
    Closed,
}

/// Redis did not answer in time, or the connection failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unavailable {
    /// No answer within the configured timeout.
    Timeout,
    /// The connection or the command failed.
    Connection,
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Timeout => "redis did not answer in time",
            Self::Connection => "the redis connection or command failed",
        })
    }
}

impl std::error::Error for Unavailable {}

/// Counters of a [`RedisLimiter`](crate::redis::RedisLimiter), since it was built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisStats {
    /// Checks Redis allowed.
    pub admitted: u64,
    /// Checks Redis denied.
    pub denied: u64,
    /// Checks denied from the local deny cache, without a round trip.
    pub denied_locally: u64,
    /// Checks admitted because Redis did not answer ([`FailurePolicy::Open`]).
    pub failed_open: u64,
    /// Checks denied because Redis did not answer ([`FailurePolicy::Closed`]).
    pub failed_closed: u64,
    /// Round trips to Redis (scripts and resets), answered or not.
    pub round_trips: u64,
    /// Times Redis stopped answering (each logged once, as is its return).
    pub outages: u64,
}

/// The counters and whether Redis answered last time.
#[derive(Debug, Default)]
pub(crate) struct Health {
    /// 0 while Redis answers, 1 while it does not.
    down: AtomicU32,
    admitted: AtomicU64,
    denied: AtomicU64,
    denied_locally: AtomicU64,
    failed_open: AtomicU64,
    failed_closed: AtomicU64,
    round_trips: AtomicU64,
    outages: AtomicU64,
}

#[derive(Clone, Copy)]
pub(crate) enum Count {
    Admitted,
    Denied,
    DeniedLocally,
    FailedOpen,
    FailedClosed,
    RoundTrip,
}

impl Health {
    pub(crate) fn count(&self, what: Count) {
        let c = match what {
            Count::Admitted => &self.admitted,
            Count::Denied => &self.denied,
            Count::DeniedLocally => &self.denied_locally,
            Count::FailedOpen => &self.failed_open,
            Count::FailedClosed => &self.failed_closed,
            Count::RoundTrip => &self.round_trips,
        };
        // Relaxed: statistics publish nothing.
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Records an answer; says so once when Redis is back.
    pub(crate) fn answered(&self) {
        // Relaxed: a plain load first keeps the common path free of writes; the
        // flag guards one log line, not data.
        if self.down.load(Ordering::Relaxed) != 0 && self.down.swap(0, Ordering::Relaxed) != 0 {
            #[cfg(feature = "tracing")]
            tracing::info!("ratecell: redis answers again; limiting resumes");
        }
    }

    /// Records a failure; says so once per outage.
    pub(crate) fn failed(&self, why: Unavailable, policy: FailurePolicy) {
        // Relaxed: the swap's answer alone decides which failure logs the line.
        if self.down.load(Ordering::Relaxed) == 0 && self.down.swap(1, Ordering::Relaxed) == 0 {
            self.outages.fetch_add(1, Ordering::Relaxed);
            #[cfg(feature = "tracing")]
            tracing::warn!(error = %why, ?policy, "ratecell: redis unavailable; failing per policy");
        }
        #[cfg(not(feature = "tracing"))]
        let _ = why;
        self.count(match policy {
            FailurePolicy::Open => Count::FailedOpen,
            FailurePolicy::Closed => Count::FailedClosed,
        });
    }

    pub(crate) fn is_down(&self) -> bool {
        // Relaxed: an advisory reading.
        self.down.load(Ordering::Relaxed) != 0
    }

    pub(crate) fn stats(&self) -> RedisStats {
        // Relaxed: totals are approximate while checks run, exact once they stop.
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RedisStats {
            admitted: get(&self.admitted),
            denied: get(&self.denied),
            denied_locally: get(&self.denied_locally),
            failed_open: get(&self.failed_open),
            failed_closed: get(&self.failed_closed),
            round_trips: get(&self.round_trips),
            outages: get(&self.outages),
        }
    }
}
