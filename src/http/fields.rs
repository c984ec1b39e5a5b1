//! The response header fields, as `http` types: lowercase names and values rendered
//! from a [`Decision`]'s numbers.

use crate::decision::Decision;
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use std::fmt::Write as _;
use std::time::Duration;

/// `RateLimit` (IETF httpapi draft): the most restrictive policy's remaining quota
/// and reset, `"name";r=..;t=..`.
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
/// `RateLimit-Policy` (IETF httpapi draft): every policy, `"name";q=..;w=..`.
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// Legacy `X-RateLimit-Limit`.
pub const X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
/// Legacy `X-RateLimit-Remaining`.
pub const X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
/// Legacy `X-RateLimit-Reset` (seconds until the quota is whole again).
pub const X_RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
/// `Retry-After` (whole seconds).
pub const RETRY_AFTER: HeaderName = http::header::RETRY_AFTER;

/// Numbers below this are served from [`DIGITS`] without allocating.
const SMALL: usize = 10_000;
const WIDTH: usize = 4;

/// Every number below [`SMALL`], zero-padded to [`WIDTH`] digits: a number's
/// decimal text is the tail of its slot, so it can be lent as a static slice.
static DIGITS: [u8; SMALL * WIDTH] = digits();

const fn digits() -> [u8; SMALL * WIDTH] {
    let mut out = [0u8; SMALL * WIDTH];
    let mut k = 0;
    while k < SMALL {
        let mut n = k;
        let mut i = WIDTH;
        while i > 0 {
            i -= 1;
            out[k * WIDTH + i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
        k += 1;
    }
    out
}

/// A number as a header value; below 10,000 (every `Retry-After` under three hours,
/// most limits and remainders) without allocating.
pub fn number_value(n: u64) -> HeaderValue {
    if let Ok(k) = usize::try_from(n) {
        if k < SMALL {
            let len = match k {
                0..=9 => 1,
                10..=99 => 2,
                100..=999 => 3,
                _ => 4,
            };
            let end = (k + 1) * WIDTH;
            let text = Bytes::from_static(&DIGITS[end - len..end]);
            // Digits are always a valid value; the fallback only keeps this panic-free.
            return HeaderValue::from_maybe_shared(text).unwrap_or_else(|_| HeaderValue::from(n));
        }
    }
    HeaderValue::from(n)
}

/// Whole seconds, rounded up: a client told to wait never comes back too early.
pub fn secs_ceil(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// `Retry-After`'s seconds: rounded up, and at least 1 (0 would invite a retry storm).
pub fn retry_after_secs(d: Duration) -> u64 {
    secs_ceil(d).max(1)
}

/// Appends one `RateLimit-Policy` list member, `"name";q=limit;w=window`.
pub(crate) fn write_policy_item(out: &mut String, name: &str, d: &Decision) {
    if !out.is_empty() {
        out.push_str(", ");
    }
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "\"{name}\";q={};w={}",
        d.limit(),
        secs_ceil(d.window())
    );
}

/// The `RateLimit` value for one policy, `"name";r=remaining;t=reset`.
///
/// Rendered by hand into one exact-size buffer: it is built for every admitted
/// request, and `core::fmt` costs more than the rest of the value.
pub fn ratelimit_value(name: &str, d: &Decision) -> HeaderValue {
    let mut r = [0u8; 20];
    let mut t = [0u8; 20];
    let r = decimal(u64::from(d.remaining()), &mut r);
    let t = decimal(secs_ceil(d.reset_after()), &mut t);
    let mut out = Vec::with_capacity(name.len() + r.len() + t.len() + 8);
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\";r=");
    out.extend_from_slice(r);
    out.extend_from_slice(b";t=");
    out.extend_from_slice(t);
    HeaderValue::from_maybe_shared(Bytes::from(out))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Every two-digit number, `00` to `99`, for rendering two digits per division.
static PAIRS: [u8; 200] = pairs();

const fn pairs() -> [u8; 200] {
    let mut out = [0u8; 200];
    let mut k = 0;
    while k < 100 {
        out[2 * k] = b'0' + (k / 10) as u8;
        out[2 * k + 1] = b'0' + (k % 10) as u8;
        k += 1;
    }
    out
}

/// `n` in decimal, written at the end of `buf`, two digits at a time.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    &buf[i..]
}

/// The `RateLimit-Policy` value for one policy.
pub fn policy_value(name: &str, d: &Decision) -> HeaderValue {
    let mut out = String::new();
    write_policy_item(&mut out, name, d);
    text_value(out)
}

/// A value built from sanitized names and numbers; never invalid, but an invalid one
/// becomes empty rather than a panic.
pub(crate) fn text_value(text: String) -> HeaderValue {
    HeaderValue::from_maybe_shared(Bytes::from(text))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Keeps the characters a policy name may carry inside a structured-field string
/// and a JSON string unescaped: ASCII letters, digits and `-_.:/`.
pub(crate) fn sanitize_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(*c))
        .take(64)
        .collect();
    if clean.is_empty() {
        "default".into()
    } else {
        clean
    }
}

/// Every field for one policy's decision: `RateLimit-Policy`, `RateLimit`, the
/// legacy `X-RateLimit-Limit`, `-Remaining`, `-Reset`, and `Retry-After` when denied.
///
/// ```
/// use ratecell::{DirectLimiter, ManualClock, Quota};
/// use ratecell::http::{fields, RATELIMIT};
///
/// let lim = DirectLimiter::builder(Quota::per_minute(100)?).clock(ManualClock::new()).build()?;
/// let all: Vec<_> = fields("api", &lim.check()).collect();
/// assert_eq!(all[1].0, RATELIMIT);
/// assert_eq!(all[1].1, "\"api\";r=99;t=1");
/// assert_eq!(all.len(), 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn fields(policy: &str, d: &Decision) -> impl Iterator<Item = (HeaderName, HeaderValue)> {
    let name = sanitize_name(policy);
    let retry = d
        .retry_after()
        .map(|r| (RETRY_AFTER, number_value(retry_after_secs(r))));
    [
        (RATELIMIT_POLICY, policy_value(&name, d)),
        (RATELIMIT, ratelimit_value(&name, d)),
        (X_RATELIMIT_LIMIT, number_value(u64::from(d.limit()))),
        (
            X_RATELIMIT_REMAINING,
            number_value(u64::from(d.remaining())),
        ),
        (X_RATELIMIT_RESET, number_value(secs_ceil(d.reset_after()))),
    ]
    .into_iter()
    .chain(retry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_render_in_decimal_on_both_sides_of_the_table() {
        for n in [
            0u64,
            7,
            10,
            99,
            100,
            999,
            1000,
            9999,
            10_000,
            123_456,
            u64::MAX,
        ] {
            assert_eq!(number_value(n).to_str().unwrap(), n.to_string());
        }
    }

    #[test]
    fn ratelimit_values_render_exactly() {
        let mut buf = [0u8; 20];
        for n in (0..10_000).chain([99_999, 100_000, 4_000_000_000, u64::MAX - 1, u64::MAX]) {
            assert_eq!(decimal(n, &mut buf), n.to_string().as_bytes());
        }
    }

    #[test]
    fn seconds_round_up_and_retry_after_is_at_least_one() {
        assert_eq!(retry_after_secs(Duration::from_millis(300)), 1);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(secs_ceil(Duration::from_secs(3)), 3);
    }

    #[test]
    fn names_are_sanitized() {
        assert_eq!(sanitize_name("per \"ip\"\\"), "perip");
        assert_eq!(sanitize_name("\u{e9}"), "default");
    }
}
