//! Quotas: "L requests per period P, bursts of up to B", validated once.

use crate::clock::{duration_to_nanos, Nanos};
use core::fmt;
use core::str::FromStr;
use core::time::Duration;

/// Longest period, and longest `burst × emission interval`: 2^62 ns (146 years).
///
/// The bound is what makes every algorithm's arithmetic overflow-free for any clock
/// reading below 2^63 ns: a stored time is at most `now + B·T < 2^63 + 2^62`.
pub const MAX_PERIOD: Nanos = 1 << 62;

/// A validated rate: `limit` requests per `period`, with an optional burst.
///
/// The emission interval `T = period / limit` is the steady spacing of requests;
/// `burst` (default `limit`) is how many may arrive back to back.
///
/// ```
/// use ratecell::Quota;
/// use std::time::Duration;
///
/// let q: Quota = "100/minute".parse()?;
/// assert_eq!(q, Quota::per_minute(100)?);
/// assert_eq!(q.period(), Duration::from_secs(60));
/// assert_eq!("5/15m".parse::<Quota>()?.to_string(), "5/15m");
/// assert_eq!(Quota::per_second(10)?.with_burst(20)?.to_string(), "10/second burst 20");
/// assert!("0/s".parse::<Quota>().is_err());
/// # Ok::<(), ratecell::QuotaError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Quota {
    limit: u32,
    period: Nanos,
    burst: Option<u32>,
}

/// Why a quota was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QuotaError {
    /// The string was empty or blank.
    Empty,
    /// The limit was 0.
    ZeroLimit,
    /// The period was 0.
    ZeroPeriod,
    /// The burst was 0.
    ZeroBurst,
    /// A number was expected: digits only, no sign, no fraction.
    InvalidNumber,
    /// A number did not fit (limit and burst are `u32`).
    NumberTooLarge,
    /// Neither `/` nor `per` between the limit and the period.
    MissingSeparator,
    /// The time unit is not one of ns, us, ms, s, m, h, d (or their long forms).
    UnknownUnit,
    /// Something followed the quota that is not `burst N`.
    TrailingInput,
    /// The period, or burst × emission interval, exceeds [`MAX_PERIOD`].
    PeriodTooLong,
    /// More than one request per nanosecond: the emission interval would be 0.
    RateTooHigh,
}

impl fmt::Display for QuotaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let msg = match self {
            Self::Empty => "empty quota (expected e.g. \"100/minute\")",
            Self::ZeroLimit => "the limit must be at least 1",
            Self::ZeroPeriod => "the period must be longer than zero",
            Self::ZeroBurst => "the burst must be at least 1",
            Self::InvalidNumber => "expected a whole number of digits (no sign, no fraction)",
            Self::NumberTooLarge => "number too large (limit and burst are at most 4294967295)",
            Self::MissingSeparator => "expected \"/\" or \"per\" between the limit and the period",
            Self::UnknownUnit => "unknown time unit (expected ns, us, ms, s, m, h or d)",
            Self::TrailingInput => "unexpected text after the quota (only \"burst N\" may follow)",
            Self::PeriodTooLong => "period (or burst x interval) longer than 2^62 ns",
            Self::RateTooHigh => "more than one request per nanosecond",
        };
        write!(f, "invalid quota: {msg}")
    }
}

impl core::error::Error for QuotaError {}

impl Quota {
    /// `limit` requests per `period`.
    pub fn new(limit: u32, period: Duration) -> Result<Self, QuotaError> {
        Self::from_nanos(limit, duration_to_nanos(period), None)
    }

    /// `limit` requests per second.
    pub fn per_second(limit: u32) -> Result<Self, QuotaError> {
        Self::from_nanos(limit, 1_000_000_000, None)
    }

    /// `limit` requests per minute.
    pub fn per_minute(limit: u32) -> Result<Self, QuotaError> {
        Self::from_nanos(limit, 60_000_000_000, None)
    }

    /// `limit` requests per hour.
    pub fn per_hour(limit: u32) -> Result<Self, QuotaError> {
        Self::from_nanos(limit, 3_600_000_000_000, None)
    }

    /// `limit` requests per day.
    pub fn per_day(limit: u32) -> Result<Self, QuotaError> {
        Self::from_nanos(limit, 86_400_000_000_000, None)
    }

    /// Allows bursts of up to `burst` back-to-back requests (token bucket and leaky
    /// bucket only; the window algorithms refuse an explicit burst at build time).
    pub fn with_burst(self, burst: u32) -> Result<Self, QuotaError> {
        Self::from_nanos(self.limit, self.period, Some(burst))
    }

    pub(crate) fn from_nanos(
        limit: u32,
        period: Nanos,
        burst: Option<u32>,
    ) -> Result<Self, QuotaError> {
        if limit == 0 {
            return Err(QuotaError::ZeroLimit);
        }
        if period == 0 {
            return Err(QuotaError::ZeroPeriod);
        }
        if burst == Some(0) {
            return Err(QuotaError::ZeroBurst);
        }
        if period > MAX_PERIOD {
            return Err(QuotaError::PeriodTooLong);
        }
        if period < u64::from(limit) {
            return Err(QuotaError::RateTooHigh);
        }
        let q = Self {
            limit,
            period,
            burst,
        };
        if u128::from(q.emission_nanos()) * u128::from(q.burst()) > u128::from(MAX_PERIOD) {
            return Err(QuotaError::PeriodTooLong);
        }
        Ok(q)
    }

    /// Rebuilds a quota from the parts of one that was validated before.
    pub(crate) fn from_valid_parts(limit: u32, period: Nanos, burst: Option<u32>) -> Self {
        Self {
            limit,
            period,
            burst,
        }
    }

    /// Requests per period.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// The period.
    pub fn period(&self) -> Duration {
        Duration::from_nanos(self.period)
    }

    /// The largest burst: the explicit one, or the limit.
    pub fn burst(&self) -> u32 {
        self.burst.unwrap_or(self.limit)
    }

    /// Whether [`with_burst`](Quota::with_burst) set the burst.
    pub fn has_explicit_burst(&self) -> bool {
        self.burst.is_some()
    }

    /// The emission interval `T = period / limit` (rounded down; at least 1 ns).
    pub fn emission_interval(&self) -> Duration {
        Duration::from_nanos(self.emission_nanos())
    }

    pub(crate) fn period_nanos(&self) -> Nanos {
        self.period
    }

    pub(crate) fn emission_nanos(&self) -> Nanos {
        self.period / u64::from(self.limit)
    }
}

const UNITS: &[(&str, Nanos)] = &[
    ("d", 86_400_000_000_000),
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

fn unit_nanos(word: &str) -> Option<Nanos> {
    let w = word.to_ascii_lowercase();
    let nanos = match w.as_str() {
        "ns" | "nanosecond" | "nanoseconds" => 1,
        "us" | "µs" | "microsecond" | "microseconds" => 1_000,
        "ms" | "millisecond" | "milliseconds" => 1_000_000,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000_000_000,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000_000_000,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000_000_000,
        "d" | "day" | "days" => 86_400_000_000_000,
        _ => return None,
    };
    Some(nanos)
}

/// Parses a run of ASCII digits that is the whole of `s`.
fn parse_number(s: &str) -> Result<u64, QuotaError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(QuotaError::InvalidNumber);
    }
    s.parse::<u64>().map_err(|_| QuotaError::NumberTooLarge)
}

fn parse_u32(s: &str) -> Result<u32, QuotaError> {
    u32::try_from(parse_number(s)?).map_err(|_| QuotaError::NumberTooLarge)
}

/// `[multiplier] [spaces] unit`, e.g. "minute", "15m", "2 hours".
fn parse_period(s: &str) -> Result<Nanos, QuotaError> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (mult, unit) = s.split_at(digits);
    let unit = unit.trim_start();
    if unit.is_empty() {
        return Err(if digits == 0 {
            QuotaError::Empty
        } else {
            QuotaError::UnknownUnit
        });
    }
    if unit.starts_with(['.', ',', '-', '+']) {
        return Err(QuotaError::InvalidNumber);
    }
    let per_unit = unit_nanos(unit).ok_or(QuotaError::UnknownUnit)?;
    let mult = if digits == 0 { 1 } else { parse_number(mult)? };
    if mult == 0 {
        return Err(QuotaError::ZeroPeriod);
    }
    mult.checked_mul(per_unit).ok_or(QuotaError::PeriodTooLong)
}

impl FromStr for Quota {
    type Err = QuotaError;

    /// Grammar: `LIMIT ("/" | "per") [MULT] UNIT [["," | ";"] "burst" B]`, with free
    /// spacing and case. Units: ns, us, ms, s/sec/second(s), m/min/minute(s),
    /// h/hr/hour(s), d/day(s).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(QuotaError::Empty);
        }
        let (limit, rest) = if let Some(i) = s.find('/') {
            (&s[..i], &s[i + 1..])
        } else {
            let lower = s.to_ascii_lowercase();
            let i = lower.find(" per ").ok_or(QuotaError::MissingSeparator)?;
            (&s[..i], &s[i + 5..])
        };
        let limit = parse_u32(limit.trim())?;
        let rest = rest.trim();
        let lower = rest.to_ascii_lowercase();
        let (period, burst) = match lower.find("burst") {
            Some(i) => {
                let period = rest[..i].trim_end().trim_end_matches([',', ';']).trim_end();
                let after = &rest[i + "burst".len()..];
                // "burst" must stand apart from its number: "burst10" is a typo.
                if !after.starts_with(|c: char| c.is_whitespace() || c == '=') {
                    return Err(QuotaError::TrailingInput);
                }
                let burst = after.trim_start();
                let burst = burst.strip_prefix('=').unwrap_or(burst).trim_start();
                let (number, extra) =
                    burst.split_at(burst.find(char::is_whitespace).unwrap_or(burst.len()));
                if !extra.trim().is_empty() {
                    return Err(QuotaError::TrailingInput);
                }
                (period, Some(parse_u32(number)?))
            }
            None => {
                if rest.contains(char::is_whitespace)
                    && !rest.starts_with(|c: char| c.is_ascii_digit())
                {
                    return Err(QuotaError::TrailingInput);
                }
                (rest, None)
            }
        };
        let period = parse_period(period).map_err(|e| match e {
            QuotaError::Empty => QuotaError::UnknownUnit,
            e => e,
        })?;
        if limit == 0 {
            return Err(QuotaError::ZeroLimit);
        }
        Self::from_nanos(limit, period, burst)
    }
}

impl Quota {
    /// Parses stacked quotas, `"10/second; 1000/day"`: quotas separated by `;`,
    /// `,` or `|` (as Python's `limits` takes them), each in [`FromStr`]'s
    /// grammar. A `burst` clause belongs to the quota before it, so
    /// `"10/s, burst 20; 1000/day"` is two quotas, the first with a burst of 20.
    ///
    /// ```
    /// use ratecell::Quota;
    ///
    /// let stack = Quota::parse_stack("10/second; 1000/day")?;
    /// assert_eq!(stack, vec![Quota::per_second(10)?, Quota::per_day(1000)?]);
    /// let stack = Quota::parse_stack("10/s, burst 20 | 5 per minute")?;
    /// assert_eq!(stack[0], Quota::per_second(10)?.with_burst(20)?);
    /// assert_eq!(stack[1], Quota::per_minute(5)?);
    /// assert!(Quota::parse_stack("10/s;;1/d").is_err());
    /// # Ok::<(), ratecell::QuotaError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The first quota's error that fails to parse; [`QuotaError::Empty`] for an
    /// empty string or an empty quota between separators.
    pub fn parse_stack(s: &str) -> Result<alloc::vec::Vec<Quota>, QuotaError> {
        let mut quotas = alloc::vec::Vec::new();
        // Spans of `s` between separators; a span that starts with "burst" extends
        // the one before it.
        let mut start = 0;
        let mut pending: Option<(usize, usize)> = None;
        let ends = s
            .match_indices([';', ',', '|'])
            .map(|(i, _)| i)
            .chain(core::iter::once(s.len()));
        for end in ends {
            let piece = &s[start..end];
            let is_burst = piece
                .trim_start()
                .get(..5)
                .is_some_and(|w| w.eq_ignore_ascii_case("burst"));
            pending = match pending {
                Some((from, _)) if is_burst => Some((from, end)),
                Some((from, to)) => {
                    quotas.push(s[from..to].parse()?);
                    Some((start, end))
                }
                None => Some((start, end)),
            };
            start = (end + 1).min(s.len());
        }
        if let Some((from, to)) = pending {
            quotas.push(s[from..to].parse()?);
        }
        Ok(quotas)
    }
}

impl fmt::Display for Quota {
    /// The canonical form, which [`FromStr`] reads back to an equal quota:
    /// `100/minute`, `5/15m`, `10/second burst 20`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (unit, per) = UNITS
            .iter()
            .copied()
            .find(|&(_, n)| self.period % n == 0)
            .unwrap_or(("ns", 1));
        let mult = self.period / per;
        if mult == 1 {
            let long = match unit {
                "d" => "day",
                "h" => "hour",
                "m" => "minute",
                "s" => "second",
                other => other,
            };
            write!(f, "{}/{long}", self.limit)?;
        } else {
            write!(f, "{}/{mult}{unit}", self.limit)?;
        }
        if let Some(b) = self.burst {
            write!(f, " burst {b}")?;
        }
        Ok(())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn q(s: &str) -> Result<Quota, QuotaError> {
        s.parse()
    }

    #[test]
    fn parses_every_documented_form() {
        let minute = Quota::per_minute(100).unwrap();
        assert_eq!(q("100/minute"), Ok(minute));
        assert_eq!(q("100/m"), Ok(minute));
        assert_eq!(q("100 / min"), Ok(minute));
        assert_eq!(q("100 per minute"), Ok(minute));
        assert_eq!(q("100 PER Minutes"), Ok(minute));
        assert_eq!(q("100/1m"), Ok(minute));
        assert_eq!(q("10/s"), Quota::per_second(10));
        assert_eq!(q("10/sec"), Quota::per_second(10));
        assert_eq!(q("1000 per hour"), Quota::per_hour(1000));
        assert_eq!(q("1/day"), Quota::per_day(1));
        assert_eq!(q("7/d"), Quota::per_day(7));
        assert_eq!(q("5/15m"), Quota::new(5, Duration::from_secs(15 * 60)));
        assert_eq!(q("3/2 hours"), Quota::new(3, Duration::from_secs(7200)));
        assert_eq!(q("3/250ms"), Quota::new(3, Duration::from_millis(250)));
        assert_eq!(
            q("10/s burst 20"),
            Quota::per_second(10).and_then(|q| q.with_burst(20))
        );
        assert_eq!(
            q("10/s, burst=20"),
            Quota::per_second(10).and_then(|q| q.with_burst(20))
        );
    }

    #[test]
    fn refuses_bad_input_with_the_reason() {
        use QuotaError::*;
        let cases: &[(&str, QuotaError)] = &[
            ("", Empty),
            ("   ", Empty),
            ("0/s", ZeroLimit),
            ("5/0s", ZeroPeriod),
            ("5/s burst 0", ZeroBurst),
            ("-5/s", InvalidNumber),
            ("+5/s", InvalidNumber),
            ("1.5/s", InvalidNumber),
            ("5/1.5s", InvalidNumber),
            ("5/-1s", InvalidNumber),
            ("abc", MissingSeparator),
            ("5 s", MissingSeparator),
            ("5/", UnknownUnit),
            ("5/fortnight", UnknownUnit),
            ("/s", InvalidNumber),
            ("99999999999/s", NumberTooLarge),
            ("5/99999999999999999999d", NumberTooLarge),
            ("5/999999999d", PeriodTooLong),
            ("5/s burst 99999999999", NumberTooLarge),
            ("5/s foo", TrailingInput),
            ("2000000000/s", RateTooHigh),
            ("5/s burst x", InvalidNumber),
            ("10/s burst10", TrailingInput),
            ("10/s burst 20 extra", TrailingInput),
            ("10/s burst=20 x", TrailingInput),
        ];
        for (input, want) in cases {
            assert_eq!(q(input), Err(*want), "input {input:?}");
            assert!(!want.to_string().is_empty());
        }
        assert_eq!(Quota::per_second(0), Err(ZeroLimit));
        assert_eq!(Quota::new(1, Duration::ZERO), Err(ZeroPeriod));
        assert_eq!(Quota::new(1, Duration::MAX), Err(PeriodTooLong));
        assert_eq!(Quota::per_second(1).unwrap().with_burst(0), Err(ZeroBurst));
        // burst x interval beyond the timeline bound
        assert_eq!(
            Quota::per_day(1).unwrap().with_burst(u32::MAX),
            Err(PeriodTooLong)
        );
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "100/minute",
            "5/15m",
            "10/second burst 20",
            "1/day",
            "3/250ms",
            "7/90s",
            "1/ns",
            "4/second",
        ] {
            let quota = q(s).unwrap();
            assert_eq!(quota.to_string(), s);
            assert_eq!(q(&quota.to_string()), Ok(quota));
        }
        assert_eq!(q("1000 per hour").unwrap().to_string(), "1000/hour");
        assert_eq!(q("2/120s").unwrap().to_string(), "2/2m");
    }
}
