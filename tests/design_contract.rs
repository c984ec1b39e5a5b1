//! The public API exactly as ../shared/DESIGN.md §2 writes it: outside tests are
//! written against these names and shapes, so this file must compile and pass
//! unchanged in spirit (only the scaffolding around the snippet is ours).

#![cfg(not(loom))]

use ratecell::{Algorithm, Decision, DirectLimiter, Limiter, ManualClock, Quota};
use std::time::Duration;

#[test]
fn the_design_snippet_compiles_and_runs() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("ratecell-contract-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("limits.snap");

    let q: Quota = "100/minute".parse()?; // FromStr; also "10/s", "5/15m", "1000 per hour"
    let _: Quota = "10/s".parse()?;
    let _: Quota = "5/15m".parse()?;
    let _: Quota = "1000 per hour".parse()?;
    let _q = Quota::per_second(10)?.with_burst(20)?;
    let _q = Quota::new(100, Duration::from_secs(60))?;
    let _ = (
        Quota::per_minute(1)?,
        Quota::per_hour(1)?,
        Quota::per_day(1)?,
    );

    let clock = ManualClock::new(); // starts at 0; Clone shares one time
    clock.advance(Duration::from_secs(1));
    clock.set(Duration::from_secs(2));
    let lim = Limiter::builder(q)
        .algorithm(Algorithm::TokenBucket)
        .capacity(1 << 20)
        .clock(clock.clone())
        .build()?;

    let d: Decision = lim.check("user:42");
    let d2 = lim.check_n("user:42", 5)?;
    let _ = lim.peek("user:42");
    lim.reset("user:42");
    let _: bool = d.is_allowed();
    let _: u32 = d.limit();
    let _: u32 = d.remaining();
    let _: Duration = d.reset_after();
    let _: Option<Duration> = d.retry_after();
    assert!(d2.is_allowed() && d2.retry_after().is_none());
    assert!(lim.check_n("user:42", 101).is_err(), "InsufficientCapacity");
    let _ = lim.check("user:7");
    lim.snapshot_to(&path)?;
    lim.restore_from(&path)?;

    let one = DirectLimiter::builder(q).clock(clock).build()?;
    let _ = one.check();
    let _ = one.check_n(3)?;
    let _ = one.peek();

    for a in [
        Algorithm::TokenBucket,
        Algorithm::LeakyBucket,
        Algorithm::FixedWindow,
        Algorithm::SlidingWindowLog,
        Algorithm::SlidingWindowCounter,
    ] {
        let keyed = Limiter::builder(q).algorithm(a).capacity(10).build()?;
        assert!(keyed.check(&42u64).is_allowed());
        let direct = DirectLimiter::builder(q).algorithm(a).build()?;
        assert!(direct.check().is_allowed());
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
