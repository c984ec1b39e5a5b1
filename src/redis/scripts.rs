//! The five algorithms as Lua scripts, and their arguments and answers.
//!
//! Each script is `lua/num.lua` (exact integer arithmetic on decimal digits, since
//! Lua's numbers are doubles and times are near 2^61 ns) followed by one algorithm,
//! which reads the key's state, decides exactly as the in-memory algorithm does and
//! writes the new state, atomically (Redis runs a script alone). The word
//! algorithms first try a fast path on doubles, taken only when every number the
//! decision needs is exact in a double; the conformance suite runs quotas through
//! both paths. Scripts run by `EVALSHA`; the `redis`
//! crate loads a script again when the server answers `NOSCRIPT` (after a restart
//! or `SCRIPT FLUSH`).

use crate::algorithm::{Algorithm, Params};
use crate::clock::Nanos;
use crate::decision::Decision;
use redis::{Script, ScriptInvocation};
use std::string::{String, ToString};

macro_rules! script {
    ($file:literal) => {
        concat!(include_str!("lua/num.lua"), include_str!($file))
    };
}

/// The Lua source of `algorithm`'s script.
pub(crate) fn source(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::TokenBucket | Algorithm::LeakyBucket => script!("lua/gcra.lua"),
        Algorithm::FixedWindow => script!("lua/fixed_window.lua"),
        Algorithm::SlidingWindowCounter => script!("lua/sliding_counter.lua"),
        Algorithm::SlidingWindowLog => script!("lua/sliding_log.lua"),
    }
}

/// Whether a run consumes quota.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Check,
    Peek,
}

/// The invocation of `script` for `key`: cost `n` (at least 1, at most the
/// maximum), at `now` (a test's time) or the server's.
pub(crate) fn invocation<'a>(
    script: &'a Script,
    p: &Params,
    key: &[u8],
    mode: Mode,
    n: u64,
    now: Option<Nanos>,
) -> ScriptInvocation<'a> {
    let mut inv = script.key(key);
    inv.arg(match mode {
        Mode::Check => "c",
        Mode::Peek => "p",
    });
    match p.algorithm {
        Algorithm::TokenBucket | Algorithm::LeakyBucket => {
            // n <= B, and the quota bounds T*B by 2^62: no overflow.
            inv.arg(p.t).arg(p.tau).arg(p.t * (n - 1)).arg(p.t * n).arg(
                if p.algorithm == Algorithm::LeakyBucket {
                    "1"
                } else {
                    "0"
                },
            );
        }
        _ => {
            inv.arg(p.period).arg(p.limit).arg(n);
        }
    }
    inv.arg(now.map_or_else(String::new, |t| t.to_string()));
    inv
}

/// A script's answer: allowed (1 or 0), then remaining_num, reset_after,
/// retry_after and delay as decimal strings.
pub(crate) type Reply = (i64, String, String, String, String);

/// The decision a script's answer says, with the numbers the quota fixes.
pub(crate) fn decision(p: &Params, reply: &Reply) -> Decision {
    // The scripts compute exactly; a number past u64 can only be a saturated one.
    let num = |s: &str| s.parse::<u64>().unwrap_or(u64::MAX);
    let mut d = p.blank_decision(reply.0 == 1);
    d.remaining_num = num(&reply.1);
    if matches!(p.algorithm, Algorithm::TokenBucket | Algorithm::LeakyBucket) {
        d.remaining_unit = p.t;
    }
    d.reset_after = num(&reply.2);
    d.retry_after = num(&reply.3);
    d.delay = num(&reply.4);
    d
}
