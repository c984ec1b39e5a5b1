//! What a check answers, and the HTTP header fields that say it.

use crate::clock::Nanos;
use core::fmt;
use core::time::Duration;

/// The answer to one check: allowed or denied, and the numbers a client is told.
///
/// A `Decision` is a plain value computed from the state the check saw; its methods
/// do the little arithmetic left (kept off the hot path on purpose: a check that
/// nobody asks `remaining()` of never divides).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "a check's decision says whether the request may proceed"]
pub struct Decision {
    pub(crate) allowed: bool,
    pub(crate) limit: u32,
    /// `remaining = min(limit, remaining_num / remaining_unit)`.
    pub(crate) remaining_num: Nanos,
    pub(crate) remaining_unit: Nanos,
    pub(crate) reset_after: Nanos,
    pub(crate) retry_after: Nanos,
    pub(crate) delay: Nanos,
    /// The window the policy's limit applies to (`w` in `RateLimit-Policy`).
    pub(crate) window: Nanos,
    /// Which quota of a stack decided (0 for a single quota).
    pub(crate) quota_index: u8,
}

impl Decision {
    /// Whether the request may proceed (after [`delay`](Decision::delay), for the
    /// leaky bucket).
    #[inline]
    pub fn is_allowed(&self) -> bool {
        self.allowed
    }

    /// The most requests the limiter admits at once: the burst for the bucket
    /// algorithms, the limit for the window algorithms.
    #[inline]
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// How many more unit-cost requests would be admitted right now.
    #[inline]
    pub fn remaining(&self) -> u32 {
        let r = self.remaining_num / self.remaining_unit.max(1);
        r.min(u64::from(self.limit)) as u32
    }

    /// Time until the limiter has forgotten every admitted request (the quota is
    /// whole again). For the fixed window: the time until the window ends.
    #[inline]
    pub fn reset_after(&self) -> Duration {
        Duration::from_nanos(self.reset_after)
    }

    /// `Some(wait)` iff denied: the earliest time the same request could be admitted,
    /// if nothing else is admitted meanwhile.
    #[inline]
    pub fn retry_after(&self) -> Option<Duration> {
        (!self.allowed).then(|| Duration::from_nanos(self.retry_after))
    }

    /// For the leaky bucket (shaping): how long an admitted request must wait before
    /// it proceeds, so that admitted requests leave exactly one emission interval
    /// apart. Zero for every other algorithm and for denied requests.
    #[inline]
    pub fn delay(&self) -> Duration {
        Duration::from_nanos(self.delay)
    }

    /// The span the limit applies to: the period for window algorithms, burst ×
    /// emission interval for the buckets.
    #[inline]
    pub fn window(&self) -> Duration {
        Duration::from_nanos(self.window)
    }

    /// Which quota decided, for a [`StackedLimiter`](crate::StackedLimiter): the
    /// index in its [`quotas`](crate::StackedLimiter::quotas) of the quota that
    /// denied (the one that denies longest), or, when allowed, of the one with the
    /// fewest requests left. 0 for a limiter of one quota.
    #[inline]
    pub fn quota_index(&self) -> usize {
        usize::from(self.quota_index)
    }

    /// The response header fields for this decision, policy named `"default"`.
    ///
    /// ```
    /// use ratecell::{DirectLimiter, ManualClock, Quota};
    ///
    /// let lim = DirectLimiter::builder(Quota::per_minute(100)?)
    ///     .clock(ManualClock::new())
    ///     .build()?;
    /// let d = lim.check();
    /// let fields: Vec<(&str, String)> =
    ///     d.headers().map(|(name, value)| (name, value.to_string())).collect();
    /// assert_eq!(fields[0], ("RateLimit-Policy", "\"default\";q=100;w=60".to_string()));
    /// assert_eq!(fields[1], ("RateLimit", "\"default\";r=99;t=1".to_string()));
    /// assert_eq!(fields[2], ("X-RateLimit-Limit", "100".to_string()));
    /// assert_eq!(fields[3], ("X-RateLimit-Remaining", "99".to_string()));
    /// assert_eq!(fields[4], ("X-RateLimit-Reset", "1".to_string()));
    /// assert_eq!(fields.len(), 5); // Retry-After only when denied
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn headers(&self) -> Headers {
        self.headers_named("default")
    }

    /// The response header fields, with the IETF fields' policy named `policy`
    /// (at most 32 bytes of it are used; it should be a plain token).
    pub fn headers_named(&self, policy: &str) -> Headers {
        let mut name = [0u8; 32];
        let mut len = 0;
        for &b in policy.as_bytes().iter().take(32) {
            if b.is_ascii_graphic() && b != b'"' && b != b'\\' {
                name[len] = b;
                len += 1;
            }
        }
        Headers {
            decision: *self,
            policy: name,
            policy_len: len as u8,
            next: 0,
        }
    }

    pub(crate) fn header_value(&self, field: Field, policy: &str) -> FieldValue {
        let mut v = FieldValue::new();
        let reset = secs_ceil(self.reset_after);
        // fmt::Write on FieldValue never fails: the buffer holds the longest value.
        let _ = match field {
            Field::Policy => write!(
                v,
                "\"{policy}\";q={};w={}",
                self.limit,
                secs_ceil(self.window)
            ),
            Field::RateLimit => write!(v, "\"{policy}\";r={};t={reset}", self.remaining()),
            Field::Limit => write!(v, "{}", self.limit),
            Field::Remaining => write!(v, "{}", self.remaining()),
            Field::Reset => write!(v, "{reset}"),
            Field::RetryAfter => write!(v, "{}", secs_ceil(self.retry_after).max(1)),
        };
        v
    }
}

use core::fmt::Write as _;

/// Whole seconds, rounded up (HTTP's delta-seconds never undersell a wait).
fn secs_ceil(n: Nanos) -> u64 {
    n.div_ceil(1_000_000_000)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    Policy,
    RateLimit,
    Limit,
    Remaining,
    Reset,
    RetryAfter,
}

const FIELDS: [(Field, &str); 6] = [
    (Field::Policy, "RateLimit-Policy"),
    (Field::RateLimit, "RateLimit"),
    (Field::Limit, "X-RateLimit-Limit"),
    (Field::Remaining, "X-RateLimit-Remaining"),
    (Field::Reset, "X-RateLimit-Reset"),
    (Field::RetryAfter, "Retry-After"),
];

/// Iterator over `(name, value)` header fields of a [`Decision`]:
/// the IETF draft's `RateLimit-Policy` and `RateLimit` (structured fields), the
/// legacy `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (seconds
/// until reset, rounded up) and, when denied, `Retry-After` (whole seconds rounded
/// up, at least 1). Allocation-free; no HTTP crate needed.
#[derive(Clone, Debug)]
pub struct Headers {
    decision: Decision,
    policy: [u8; 32],
    policy_len: u8,
    next: usize,
}

impl Iterator for Headers {
    type Item = (&'static str, FieldValue);

    fn next(&mut self) -> Option<Self::Item> {
        let (field, name) = *FIELDS.get(self.next)?;
        if field == Field::RetryAfter && self.decision.allowed {
            return None;
        }
        self.next += 1;
        let policy =
            core::str::from_utf8(&self.policy[..usize::from(self.policy_len)]).unwrap_or("");
        Some((name, self.decision.header_value(field, policy)))
    }
}

/// A rendered header value: ASCII text in a fixed buffer (no allocation).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FieldValue {
    buf: [u8; 80],
    len: u8,
}

impl FieldValue {
    fn new() -> Self {
        Self {
            buf: [0; 80],
            len: 0,
        }
    }

    /// The value as text.
    pub fn as_str(&self) -> &str {
        // The buffer only ever receives whole `str` writes.
        core::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or("")
    }
}

impl fmt::Write for FieldValue {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let start = usize::from(self.len);
        let end = start + s.len();
        if end > self.buf.len() {
            return Err(fmt::Error);
        }
        self.buf[start..end].copy_from_slice(s.as_bytes());
        self.len = end as u8;
        Ok(())
    }
}

impl AsRef<str> for FieldValue {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec::Vec;

    fn denied() -> Decision {
        Decision {
            allowed: false,
            limit: 10,
            remaining_num: 0,
            remaining_unit: 1,
            reset_after: 2_500_000_000,
            retry_after: 1,
            delay: 0,
            window: 60_000_000_000,
            quota_index: 0,
        }
    }

    #[test]
    fn denied_headers_round_retry_after_up_to_at_least_one_second() {
        let d = denied();
        assert_eq!(d.retry_after(), Some(Duration::from_nanos(1)));
        let h: Vec<_> = d
            .headers_named("api \"v1\"")
            .map(|(n, v)| (n, v.to_string()))
            .collect();
        assert_eq!(
            h,
            [
                ("RateLimit-Policy", "\"apiv1\";q=10;w=60".to_string()),
                ("RateLimit", "\"apiv1\";r=0;t=3".to_string()),
                ("X-RateLimit-Limit", "10".to_string()),
                ("X-RateLimit-Remaining", "0".to_string()),
                ("X-RateLimit-Reset", "3".to_string()),
                ("Retry-After", "1".to_string()),
            ]
        );
        let d = Decision {
            retry_after: 2_000_000_001,
            ..denied()
        };
        assert_eq!(d.headers().last().unwrap().1.as_str(), "3");
    }

    #[test]
    fn longest_values_fit() {
        let d = Decision {
            limit: u32::MAX,
            remaining_num: u64::MAX,
            reset_after: u64::MAX,
            window: u64::MAX,
            retry_after: u64::MAX,
            ..denied()
        };
        for (_, v) in d.headers_named("abcdefghijklmnopqrstuvwxyz0123456789") {
            assert!(!v.as_str().is_empty());
        }
        let policy = d
            .headers_named("abcdefghijklmnopqrstuvwxyz0123456789")
            .next()
            .unwrap()
            .1;
        assert_eq!(
            policy.as_str(),
            "\"abcdefghijklmnopqrstuvwxyz012345\";q=4294967295;w=18446744074"
        );
    }
}
