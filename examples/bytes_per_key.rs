//! Bytes per key at a million keys, measured as resident memory (VmRSS), for
//! ratecell's keyed `Limiter` and for governor's keyed (DashMap) limiter.
//!
//! `cargo run --release --example bytes_per_key`
//!
//! Each limiter is measured in a child process of its own (this program re-run
//! with `ratecell` or `governor` as its argument). Freed memory does not reliably
//! leave a process's RSS (the allocator keeps it, or the pages stay mapped), so
//! measuring the second limiter after dropping the first in one process would
//! count, or hide, whatever the first left behind; a fresh process starts both
//! from the same baseline.
//!
//! Keys are written into one reused `String` and passed by reference, so the only
//! memory that stays is what the limiter itself retains. For governor that
//! includes its own copy of every key (its map owns `String` keys); ratecell keeps
//! no key, only a 56-bit tag of its hash.

use governor::{DefaultKeyedRateLimiter, Quota as GQuota, RateLimiter};
use ratecell::{Limiter, Quota};
use std::fmt::Write as _;
use std::num::NonZeroU32;
use std::process::Command;
use std::time::Duration;

const KEYS: usize = 1_000_000;

/// Resident set size in bytes, from `/proc/self/status`; `None` off Linux.
fn rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// One check per key, all allowed. A key's state expires when its bucket is full
/// again, here an hour after its check, so every key is still live when RSS is
/// read and ratecell cannot have reused an early key's room for a later one.
fn quotas() -> (Quota, GQuota) {
    (
        Quota::new(1, Duration::from_secs(3600))
            .and_then(|q| q.with_burst(1_000))
            .unwrap(),
        GQuota::per_hour(NonZeroU32::new(1).unwrap()).allow_burst(NonZeroU32::new(1_000).unwrap()),
    )
}

/// Calls `check` with `key:0` .. `key:{KEYS-1}`, built in one reused buffer.
fn each_key(mut check: impl FnMut(&String)) {
    let mut buf = String::with_capacity(16);
    for i in 0..KEYS {
        buf.clear();
        write!(buf, "key:{i}").unwrap();
        check(&buf);
    }
}

fn per_key(before: u64, after: u64) -> f64 {
    after.saturating_sub(before) as f64 / KEYS as f64
}

fn measure_ratecell() {
    let (q, _) = quotas();
    let before = rss().unwrap();
    let lim = Limiter::builder(q).capacity(KEYS).build().unwrap();
    let mut allowed = 0;
    each_key(|k| allowed += usize::from(lim.check(k.as_str()).is_allowed()));
    let after = rss().unwrap();
    assert_eq!(allowed, KEYS);
    let stats = lim.stats();
    println!(
        "ratecell: {:.2} bytes/key by RSS, memory_bytes()/1e6 = {:.2}, live keys {}, evicted {}",
        per_key(before, after),
        lim.memory_bytes() as f64 / 1e6,
        lim.len(),
        stats.evicted,
    );
}

fn measure_governor() {
    let (_, q) = quotas();
    let before = rss().unwrap();
    let lim: DefaultKeyedRateLimiter<String> = RateLimiter::keyed(q);
    let mut allowed = 0;
    each_key(|k| allowed += usize::from(lim.check_key(k).is_ok()));
    let after = rss().unwrap();
    assert_eq!(allowed, KEYS);
    println!(
        "governor: {:.2} bytes/key by RSS, {} keys stored",
        per_key(before, after),
        lim.len(),
    );
}

fn main() {
    if rss().is_none() {
        println!("unsupported: VmRSS needs Linux's /proc/self/status");
        return;
    }
    match std::env::args().nth(1).as_deref() {
        Some("ratecell") => measure_ratecell(),
        Some("governor") => measure_governor(),
        _ => {
            let me = std::env::current_exe().unwrap();
            for which in ["ratecell", "governor"] {
                let status = Command::new(&me).arg(which).status().unwrap();
                assert!(status.success(), "{which} run failed: {status}");
            }
        }
    }
}
