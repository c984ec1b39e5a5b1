//! The layer's async path, for a stack holding a Redis policy: the all-or-nothing
//! check across local and Redis policies, and the answer when Redis fails closed.

use super::denied::problem_response;
use super::key::Key;
use super::policy::{DecisionList, Policy, Verdict};
use crate::decision::Decision;
use crate::redis::{FailurePolicy, Raw, RedisLimiter};
use http::{header, HeaderValue, Response, StatusCode};

/// What a stack with Redis policies answered for one request.
#[derive(Debug)]
pub(crate) enum RemoteVerdict {
    /// As for a local stack; `failed` lists the Redis policies that did not answer
    /// and failed open (their decisions are the limiter's blank ones).
    Decided {
        verdict: Verdict,
        failed: Vec<usize>,
    },
    /// The Redis policy at `policy` did not answer and fails closed.
    Unavailable { policy: usize },
}

/// The Redis key text of a layer key (see [`Policy::redis`]).
pub(crate) fn key_text(key: &Key) -> Vec<u8> {
    match key {
        Key::Ip(ip) => format!("ip:{ip}").into_bytes(),
        Key::Header(v) => [b"h:", v.as_bytes()].concat(),
        Key::Text(t) => format!("t:{t}").into_bytes(),
        Key::Number(n) => format!("n:{n}").into_bytes(),
        Key::Global => b"global".to_vec(),
    }
}

/// One Redis round trip: `Ok(Some(d))` answered, `Ok(None)` failed open,
/// `Err(())` failed closed.
async fn ask(
    lim: &RedisLimiter,
    key: &[u8],
    cost: u32,
    peek: bool,
) -> Result<Option<Decision>, ()> {
    // The cost was found to fit before any round trip.
    let Ok(call) = lim.try_decide_n(&Raw(key), cost, peek) else {
        return Ok(Some(lim.failure_decision()));
    };
    match call.await {
        Ok(d) => Ok(Some(d)),
        Err(_) if lim.failure_policy() == FailurePolicy::Open => Ok(None),
        Err(_) => Err(()),
    }
}

/// Checks `key` at `cost` against every policy, local and Redis: local policies
/// are peeked, then Redis policies checked (peeked first when there are several),
/// then local policies checked. A denial or a closed failure before the Redis
/// checks consumes nothing; after them, the Redis units stay consumed (the stack
/// admits less than each policy alone would, never more).
pub(crate) async fn check_all(policies: &[Policy], key: &Key, cost: u32) -> RemoteVerdict {
    let decided = |verdict| RemoteVerdict::Decided {
        verdict,
        failed: Vec::new(),
    };
    let text = key_text(key);
    let mut decisions = Vec::with_capacity(policies.len());
    let mut remote = Vec::new();
    for (i, p) in policies.iter().enumerate() {
        let found = match p.remote() {
            Some(lim) => match lim.fits(cost) {
                Ok(()) => {
                    remote.push(i);
                    Ok(lim.failure_decision())
                }
                Err(error) => Err((error, peek_remote(lim, &text).await)),
            },
            None => p.peek_n(key, cost).map_err(|error| (error, p.peek(key))),
        };
        match found {
            Ok(d) => decisions.push(d),
            Err((error, decision)) => {
                return decided(Verdict::TooCostly {
                    policy: i,
                    max: error.max,
                    decision,
                })
            }
        }
    }
    let violated: Vec<usize> = (0..decisions.len())
        .filter(|&i| !remote.contains(&i) && !decisions[i].is_allowed())
        .collect();
    if !violated.is_empty() {
        return decided(Verdict::Denied {
            decisions,
            violated,
        });
    }
    let mut failed = Vec::new();
    // Several Redis policies: peek them all before any consumes.
    if remote.len() > 1 {
        let mut violated = Vec::new();
        for &i in &remote {
            let Some(lim) = policies[i].remote() else {
                continue;
            };
            match ask(lim, &text, cost, true).await {
                Ok(Some(d)) if !d.is_allowed() => {
                    decisions[i] = d;
                    violated.push(i);
                }
                Ok(_) => {}
                Err(()) => return RemoteVerdict::Unavailable { policy: i },
            }
        }
        if !violated.is_empty() {
            return decided(Verdict::Denied {
                decisions,
                violated,
            });
        }
    }
    for &i in &remote {
        let Some(lim) = policies[i].remote() else {
            continue;
        };
        match ask(lim, &text, cost, false).await {
            Ok(Some(d)) => {
                decisions[i] = d;
                if !d.is_allowed() {
                    return denied_by(i, decisions, failed);
                }
            }
            Ok(None) => failed.push(i),
            Err(()) => return RemoteVerdict::Unavailable { policy: i },
        }
    }
    for (i, p) in policies.iter().enumerate() {
        if remote.contains(&i) {
            continue;
        }
        match p.check_n(key, cost) {
            Ok(d) => {
                decisions[i] = d;
                if !d.is_allowed() {
                    return denied_by(i, decisions, failed);
                }
            }
            Err(error) => {
                return RemoteVerdict::Decided {
                    verdict: Verdict::TooCostly {
                        policy: i,
                        max: error.max,
                        decision: p.peek(key),
                    },
                    failed,
                }
            }
        }
    }
    let list = match decisions.as_slice() {
        [one] => DecisionList::One(*one),
        _ => DecisionList::Many(decisions),
    };
    RemoteVerdict::Decided {
        verdict: Verdict::Admitted(list),
        failed,
    }
}

/// Policy `i` denied, after the policies in `failed` failed open.
fn denied_by(i: usize, decisions: Vec<Decision>, failed: Vec<usize>) -> RemoteVerdict {
    RemoteVerdict::Decided {
        verdict: Verdict::Denied {
            decisions,
            violated: vec![i],
        },
        failed,
    }
}

/// A Redis policy's unit peek, for the fields of a request it can never admit;
/// the blank decision when Redis does not answer.
async fn peek_remote(lim: &RedisLimiter, key: &[u8]) -> Decision {
    match ask(lim, key, 1, true).await {
        Ok(Some(d)) => d,
        _ => lim.failure_decision(),
    }
}

/// The answer when a Redis policy fails closed: 503, `Retry-After: 1` (the
/// failure policy's retry time) and a problem body. Not a 429: the client did not
/// exceed its quota, the limiter could not tell.
pub(crate) fn unavailable_response() -> Response<String> {
    let mut res = problem_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "{\"type\":\"about:blank\",\"title\":\"Service Unavailable\",\"status\":503,\
         \"detail\":\"the rate limiter's store did not answer; retry in 1 s\"}"
            .to_string(),
    );
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_keys_name_redis_keys_as_documented() {
        let text = |k: Key| String::from_utf8(key_text(&k)).unwrap();
        assert_eq!(text(Key::Ip([192, 0, 2, 7].into())), "ip:192.0.2.7");
        assert_eq!(
            text(Key::Ip("2001:db8::".parse().unwrap())),
            "ip:2001:db8::"
        );
        assert_eq!(text(Key::Header(HeaderValue::from_static("k-1"))), "h:k-1");
        assert_eq!(text(Key::Text("a b".into())), "t:a b");
        assert_eq!(text(Key::Number(42)), "n:42");
        assert_eq!(text(Key::Global), "global");
    }
}
