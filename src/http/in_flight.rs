//! In-flight policies: a permit per admitted request, taken without waiting and
//! held by the response future until it completes or is dropped.

use super::denied::problem_response;
use super::key::Key;
use super::policy::Policy;
use crate::concurrency::{
    ConcurrencyLimiter, KeyedConcurrencyLimiter, OwnedKeyedPermit, OwnedPermit,
};
use crate::decision::Decision;
use http::{Response, StatusCode};
use std::fmt::Write as _;
use std::sync::Arc;

/// The limit behind an in-flight policy.
#[derive(Clone, Debug)]
pub(crate) enum InFlight {
    /// One count for every request.
    All(Arc<ConcurrencyLimiter>),
    /// One count per key.
    Keyed(Arc<KeyedConcurrencyLimiter>),
}

/// One permit, given back when dropped.
#[derive(Debug)]
enum Held {
    All(#[allow(dead_code)] OwnedPermit),
    Keyed(#[allow(dead_code)] OwnedKeyedPermit),
}

impl InFlight {
    fn try_acquire(&self, key: &Key) -> Option<Held> {
        match self {
            Self::All(c) => c.try_acquire_owned().map(Held::All),
            Self::Keyed(c) => c.try_acquire_owned(key).map(Held::Keyed),
        }
    }

    fn max_and_out(&self, key: &Key) -> (u32, u32) {
        match self {
            Self::All(c) => (c.max(), c.in_flight()),
            Self::Keyed(c) => (c.max(), c.in_flight(key)),
        }
    }

    /// What a `try_acquire` would answer now, as a decision: allowed while a permit
    /// is free, the limit being the most permits out at once.
    pub(crate) fn decision(&self, key: &Key) -> Decision {
        let (max, out) = self.max_and_out(key);
        let free = max.saturating_sub(out);
        Decision {
            allowed: free > 0,
            limit: max,
            remaining_num: u64::from(free),
            remaining_unit: 1,
            reset_after: 0,
            retry_after: 0,
            delay: 0,
            window: 0,
            quota_index: 0,
        }
    }
}

/// The permits one admitted request holds, one per in-flight policy; all given
/// back when this is dropped.
#[derive(Debug)]
pub(crate) struct Permits(#[allow(dead_code)] Vec<Held>);

/// Takes a permit of every in-flight policy, all or none; `Err(i)` when policy
/// `i` has none free (the permits already taken go back as the list drops).
pub(crate) fn acquire_all(policies: &[Policy], key: &Key) -> Result<Permits, usize> {
    let mut held = Vec::with_capacity(policies.len());
    for (i, p) in policies.iter().enumerate() {
        match p.as_in_flight().and_then(|f| f.try_acquire(key)) {
            Some(h) => held.push(h),
            None => return Err(i),
        }
    }
    Ok(Permits(held))
}

/// The answer to a request refused for want of a permit: `status` (503 unless
/// configured) with an RFC 9457 problem body naming the policy.
pub(crate) fn refusal(status: StatusCode, policy: &str) -> Response<String> {
    let title = status
        .canonical_reason()
        .unwrap_or("Too Many Requests In Flight");
    let mut body = String::with_capacity(192);
    // Writing to a String cannot fail; names are sanitized to plain characters.
    let _ = write!(
        body,
        "{{\"type\":\"about:blank\",\"title\":\"{title}\",\"status\":{},\
         \"detail\":\"too many requests in flight\",\"violated-policies\":[\"{policy}\"]}}",
        status.as_u16()
    );
    problem_response(status, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_are_all_or_none_and_go_back_on_drop() {
        let all = Arc::new(ConcurrencyLimiter::new(2).unwrap());
        let per_key = Arc::new(KeyedConcurrencyLimiter::new(1, 64).unwrap());
        let stack = [
            Policy::in_flight("all", all.clone()),
            Policy::in_flight_keyed("per-key", per_key.clone()),
        ];
        let (a, b) = (Key::Number(1), Key::Number(2));
        let first = acquire_all(&stack, &a).unwrap();
        // The keyed policy is full for `a`: the permit taken from `all` goes back.
        assert_eq!(acquire_all(&stack, &a).unwrap_err(), 1);
        assert_eq!(all.in_flight(), 1);
        let second = acquire_all(&stack, &b).unwrap();
        assert_eq!(acquire_all(&stack, &Key::Number(3)).unwrap_err(), 0);
        drop((first, second));
        assert_eq!((all.in_flight(), per_key.in_flight(&a)), (0, 0));
    }

    #[test]
    fn the_refusal_is_a_problem_document() {
        let res = refusal(StatusCode::SERVICE_UNAVAILABLE, "conns");
        assert_eq!(res.status(), 503);
        assert_eq!(
            res.body(),
            "{\"type\":\"about:blank\",\"title\":\"Service Unavailable\",\"status\":503,\
             \"detail\":\"too many requests in flight\",\"violated-policies\":[\"conns\"]}"
        );
    }
}
