//! Configuration (feature `serde`): quotas as their strings, algorithms and full
//! policies as kebab-case names, a limiter's settings from one TOML table, and
//! errors that name the field.

#![cfg(all(feature = "serde", not(loom)))]

use ratecell::config::{LimiterConfig, Quotas};
use ratecell::{Algorithm, BuildError, FullPolicy, ManualClock, Quota};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct One<T> {
    v: T,
}

fn round_trip<T>(v: T, text: &str)
where
    T: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug,
{
    let one = One { v };
    let written = toml::to_string(&one).unwrap();
    assert_eq!(written.trim(), format!("v = {text}"));
    assert_eq!(toml::from_str::<One<T>>(&written).unwrap(), one);
}

#[test]
fn values_are_the_strings_the_parser_takes() {
    round_trip(Quota::per_minute(100).unwrap(), "\"100/minute\"");
    round_trip(
        Quota::per_second(10).unwrap().with_burst(20).unwrap(),
        "\"10/second burst 20\"",
    );
    round_trip(
        Algorithm::SlidingWindowCounter,
        "\"sliding-window-counter\"",
    );
    round_trip(Algorithm::TokenBucket, "\"token-bucket\"");
    round_trip(FullPolicy::Deny, "\"deny\"");
    round_trip(
        Quotas(Quota::parse_stack("10/s; 1000/d").unwrap()),
        "\"10/second; 1000/day\"",
    );
    let q: One<Quota> = toml::from_str("v = \"5 per 15m\"").unwrap();
    assert_eq!(
        q.v,
        Quota::new(5, std::time::Duration::from_secs(900)).unwrap()
    );
}

#[test]
fn a_limiter_is_configured_from_one_table() {
    let c: LimiterConfig = toml::from_str(
        r#"
        quota = "3/minute"
        algorithm = "fixed-window"
        capacity = 1000
        full_policy = "deny"
        [tiers]
        paid = "10/minute"
        "#,
    )
    .unwrap();
    assert_eq!(c.algorithm, Algorithm::FixedWindow);
    assert_eq!((c.capacity, c.full_policy), (1000, FullPolicy::Deny));
    let lim = c
        .builder()
        .unwrap()
        .clock(ManualClock::new())
        .build()
        .unwrap();
    assert_eq!(lim.algorithm(), Algorithm::FixedWindow);
    assert_eq!((0..5).filter(|_| lim.check("k").is_allowed()).count(), 3);
    let tiers = c.tiers_for(&lim).unwrap();
    let paid = &tiers["paid"];
    assert_eq!(
        (0..20)
            .filter(|_| lim.check_with(paid, "p").unwrap().is_allowed())
            .count(),
        10
    );
    // Written back and read again: the same settings.
    let again: LimiterConfig = toml::from_str(&toml::to_string(&c).unwrap()).unwrap();
    assert_eq!(again, c);
    // Defaults.
    let d: LimiterConfig = toml::from_str(r#"quota = "1/s""#).unwrap();
    assert_eq!(d.algorithm, Algorithm::TokenBucket);
    assert_eq!(d.capacity, ratecell::DEFAULT_CAPACITY);
    assert!(d.tiers.is_empty());
    // A stack builds a StackedLimiter, not a Limiter.
    let s: LimiterConfig = toml::from_str(r#"quota = "2/s | 3/m""#).unwrap();
    assert_eq!(s.builder().err(), Some(BuildError::StackSize(2)));
    let stack = s
        .stacked_builder()
        .unwrap()
        .clock(ManualClock::new())
        .build()
        .unwrap();
    assert_eq!(stack.quotas().len(), 2);
}

#[test]
fn invalid_values_are_errors_naming_the_field() {
    let err = |text: &str| {
        toml::from_str::<LimiterConfig>(text)
            .unwrap_err()
            .to_string()
    };
    let e = err(r#"quota = "10/fortnight""#);
    assert!(
        e.contains("quota = ") && e.contains("unknown time unit"),
        "{e}"
    );
    let e = err("quota = \"1/s\"\nalgorithm = \"gcra\"");
    assert!(
        e.contains("algorithm = ") && e.contains("unknown variant"),
        "{e}"
    );
    let e = err("quota = \"1/s\"\ncapacity = -1");
    assert!(e.contains("capacity = "), "{e}");
    let e = err("quota = \"1/s\"\ncapacty = 10");
    assert!(e.contains("capacty"), "{e}");
    let e = err("algorithm = \"fixed-window\"");
    assert!(e.contains("quota"), "{e}");
    let e = err("quota = \"1/s\"\n[tiers]\npaid = \"0/s\"");
    assert!(e.contains("paid = ") && e.contains("at least 1"), "{e}");
    // A tier the limiter cannot hold is named too.
    let c: LimiterConfig =
        toml::from_str("quota = \"1/s\"\nalgorithm = \"fixed-window\"\n[tiers]\nslow = \"1/m\"")
            .unwrap();
    let lim = c.builder().unwrap().build().unwrap();
    let e = c.tiers_for(&lim).unwrap_err();
    assert_eq!(e.tier, "slow");
    assert_eq!(
        e.error,
        BuildError::PeriodChangeOnWindow(Algorithm::FixedWindow)
    );
}
