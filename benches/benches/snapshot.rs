//! Saving and restoring a keyed limiter of a million live keys (capacity
//! 1,000,000, token bucket) through a file in a temporary directory. Target: at
//! most 50 ms each (the median is in
//! `target/criterion/snapshot_1m/{save,restore}/new/estimates.json`).
//!
//! A save includes the table scan, encoding, checksum, write, `fsync`, rename and
//! directory `fsync`; a restore the read, every check, the new table's allocation
//! and the install. `save_tmpfs` saves the same to `/dev/shm` (where `fsync` costs
//! nothing), which separates the disk's share of a save from the rest.

use criterion::{criterion_group, criterion_main, Criterion};
use ratecell::{Limiter, ManualClock, Quota};
use std::time::Duration;

const KEYS: u64 = 1_000_000;

fn filled(clock: &ManualClock) -> Limiter<ManualClock> {
    let lim = Limiter::builder(Quota::per_hour(10).unwrap())
        .capacity(KEYS as usize)
        .clock(clock.clone())
        .build()
        .unwrap();
    for k in 0..KEYS {
        let _ = lim.check(&k);
    }
    lim
}

fn snapshot_1m(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("ratecell-bench-snapshot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("limits.snap");
    let clock = ManualClock::new();
    clock.set(Duration::from_secs(1_700_000_000));
    let lim = filled(&clock);
    let info = lim.snapshot_to(&path).unwrap();
    assert!(info.entries + lim.stats().evicted == KEYS, "{info:?}");
    eprintln!(
        "snapshot of {} keys: {} bytes ({} evicted at fill)",
        info.entries,
        info.bytes,
        lim.stats().evicted
    );

    let mut g = c.benchmark_group("snapshot_1m");
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(8));
    g.bench_function("save", |b| b.iter(|| lim.snapshot_to(&path).unwrap()));
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        let p = shm.join(format!("ratecell-bench-{}.snap", std::process::id()));
        g.bench_function("save_tmpfs", |b| b.iter(|| lim.snapshot_to(&p).unwrap()));
        let _ = std::fs::remove_file(&p);
    }
    let target = Limiter::builder(Quota::per_hour(10).unwrap())
        .capacity(KEYS as usize)
        .clock(clock.clone())
        .build()
        .unwrap();
    g.bench_function("restore", |b| {
        b.iter(|| target.restore_from(&path).unwrap())
    });
    g.finish();
    // Restored once more, so the check holds when a filter skipped the restore bench.
    target.restore_from(&path).unwrap();
    assert_eq!(target.peek(&7u64), lim.peek(&7u64));
    std::fs::remove_dir_all(&dir).unwrap();
}

criterion_group!(benches, snapshot_1m);
criterion_main!(benches);
