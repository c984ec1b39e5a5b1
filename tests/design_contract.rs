//! The public API exactly as the design contract writes it (the names and shapes
//! that tests outside this repository are written against), with every result
//! it computes checked.

#![cfg(not(loom))]

use ratecell::{Algorithm, Clock, Decision, DirectLimiter, Limiter, ManualClock, Quota};
use std::time::Duration;

#[test]
fn the_design_snippet_compiles_and_runs() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("ratecell-contract-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("limits.snap");

    let q: Quota = "100/minute".parse()?; // FromStr; also "10/s", "5/15m", "1000 per hour"
    assert_eq!(q, Quota::per_minute(100)?);
    assert_eq!("10/s".parse::<Quota>()?, Quota::per_second(10)?);
    assert_eq!(
        "5/15m".parse::<Quota>()?,
        Quota::new(5, Duration::from_secs(15 * 60))?
    );
    assert_eq!("1000 per hour".parse::<Quota>()?, Quota::per_hour(1000)?);
    let bursty = Quota::per_second(10)?.with_burst(20)?;
    assert_eq!((bursty.limit(), bursty.burst()), (10, 20));
    assert_eq!(Quota::new(100, Duration::from_secs(60))?, q);
    assert_eq!(Quota::per_minute(1)?.period(), Duration::from_secs(60));
    assert_eq!(Quota::per_hour(1)?.period(), Duration::from_secs(3_600));
    assert_eq!(Quota::per_day(1)?.period(), Duration::from_secs(86_400));

    let clock = ManualClock::new(); // starts at 0; Clone shares one time
    let shared = clock.clone();
    clock.advance(Duration::from_secs(1));
    assert_eq!(shared.now(), 1_000_000_000);
    clock.set(Duration::from_secs(2));
    assert_eq!(shared.now(), 2_000_000_000);
    let lim = Limiter::builder(q)
        .algorithm(Algorithm::TokenBucket)
        .capacity(1 << 20)
        .clock(clock.clone())
        .build()?;

    let d: Decision = lim.check("user:42");
    assert!(d.is_allowed());
    assert_eq!(d.limit(), 100);
    assert_eq!(d.remaining(), 99);
    assert_eq!(d.reset_after(), Duration::from_millis(600));
    assert_eq!(d.retry_after(), None);
    let d2 = lim.check_n("user:42", 5)?;
    assert!(d2.is_allowed() && d2.retry_after().is_none());
    assert_eq!(d2.remaining(), 94);
    assert_eq!(lim.peek("user:42"), lim.peek("user:42"));
    // peek answers what check would: one more admitted, 93 left.
    assert_eq!(lim.peek("user:42").remaining(), 93);
    lim.reset("user:42");
    assert_eq!(lim.peek("user:42").remaining(), 99);
    let err = lim.check_n("user:42", 101).unwrap_err();
    assert_eq!((err.requested, err.max), (101, 100));
    assert!(lim.check("user:7").is_allowed());
    let saved = lim.snapshot_to(&path)?;
    assert_eq!(saved.entries, 1);
    let restored = lim.restore_from(&path)?;
    assert_eq!(restored.entries, 1);
    assert_eq!(lim.peek("user:7").remaining(), 98);

    let one = DirectLimiter::builder(q).clock(clock).build()?;
    assert_eq!(one.check().remaining(), 99);
    assert_eq!(one.check_n(3)?.remaining(), 96);
    assert_eq!(one.peek().remaining(), 95);
    assert!(one.check_n(101).is_err());

    for a in Algorithm::ALL {
        let keyed = Limiter::builder(q).algorithm(a).capacity(10).build()?;
        let d = keyed.check(&42u64);
        assert!(d.is_allowed(), "{a:?}");
        assert_eq!(d.remaining(), 99, "{a:?}");
        let direct = DirectLimiter::builder(q).algorithm(a).build()?;
        let d = direct.check();
        assert!(d.is_allowed(), "{a:?}");
        assert_eq!(d.remaining(), 99, "{a:?}");
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[test]
fn limiters_are_send_and_sync() {
    fn shared<T: Send + Sync>() {}
    shared::<Limiter>();
    shared::<DirectLimiter>();
    shared::<Limiter<ManualClock>>();
    shared::<DirectLimiter<ManualClock>>();
}
