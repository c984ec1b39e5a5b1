//! The checks behind the fuzz targets in `fuzz/`, here so that `cargo test`
//! replays the committed corpora through exactly the same code
//! (`fuzz_corpora_replay` in `tests/snapshot.rs`). Not part of the API. Every check panics on a
//! violation; any input is valid (running out of bytes ends the run).

use super::format::{self, SnapshotKind};
use super::SnapshotFile;
use crate::algorithm::Algorithm;
use crate::cell::WordCell;
use crate::clock::{Clock, ManualClock, Nanos};
use crate::limiter::{DirectCell, DirectLimiter, Limiter};
use crate::quota::Quota;
use crate::table::{Table, GROUP_SLOTS};
use core::time::Duration;

/// Arbitrary bytes as a snapshot file: never a panic; a file that decodes encodes
/// back to the same bytes (one encoding per content, so nothing is lost or
/// invented), and restores into a limiter of its shape with exactly its live
/// entries.
///
/// Under `cfg(fuzzing)` the decoder skips the checksum (so that mutations reach the
/// checks behind it) and the comparison skips those four bytes.
pub fn snapshot_decode(data: &[u8]) {
    let Ok(file) = SnapshotFile::from_bytes(data.to_vec()) else {
        return;
    };
    let again = file.to_bytes();
    let n = if cfg!(fuzzing) { format::CRC_LEN } else { 0 };
    assert_eq!(again.len(), data.len(), "re-encoded length");
    assert!(
        again[..data.len() - n] == data[..data.len() - n],
        "re-encoded bytes differ"
    );
    let h = *file.header();
    let data = &again; // a valid checksum, for the restores below
    let clock = ManualClock::new();
    clock.set_nanos(h.saved_at);
    let (live, expired) = file.live_at(h.saved_at);
    match h.kind {
        SnapshotKind::Direct => {
            let lim = DirectLimiter::builder(h.quota)
                .algorithm(h.algorithm)
                .clock(clock.clone())
                .build()
                .expect("a decoded header holds a valid quota for its algorithm");
            let info = lim.restore_bytes(data).expect("a decoded file restores");
            assert_eq!((info.restored, info.expired), (live, expired));
        }
        // Tables up to 1024 groups: larger ones cost the fuzzer more than they find.
        SnapshotKind::Keyed
            if h.slots_per_group as usize == GROUP_SLOTS && h.group_count <= 1024 =>
        {
            let mut lim = Limiter::builder(h.quota)
                .algorithm(h.algorithm)
                .capacity(1)
                .clock(clock.clone())
                .build()
                .expect("a decoded header holds a valid quota for its algorithm");
            let table =
                Table::with_groups(h.group_count as usize, [1, 2, 3, 4]).expect("a small table");
            lim.store.replace_table(table);
            let info = lim.restore_bytes(data).expect("a decoded file restores");
            assert_eq!((info.restored, info.expired), (live, expired));
            assert_eq!(
                lim.len() as u64,
                info.restored,
                "every restored entry is a live key"
            );
            // Saved again, nothing is lost but keys sharing a tag (the save keeps one).
            let (_, again) = lim
                .snapshot_bytes()
                .expect("a snapshot of a limiter in memory cannot fail");
            assert_eq!(again.entries + again.duplicates, info.restored);
        }
        SnapshotKind::Keyed => {}
    }
}

/// A little reader over the fuzzer's bytes.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn u64(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for _ in 0..8 {
            v = v << 8 | u64::from(self.u8()?);
        }
        Some(v)
    }
}

const WORD_ALGORITHMS: [Algorithm; 4] = [
    Algorithm::TokenBucket,
    Algorithm::LeakyBucket,
    Algorithm::FixedWindow,
    Algorithm::SlidingWindowCounter,
];

const KEYS: usize = 16;

/// The direct limiters' state words (the model's side of a snapshot).
fn word(d: &DirectLimiter<ManualClock>) -> &WordCell {
    match &d.cell {
        DirectCell::Word(c) => c,
        DirectCell::Log(_) | DirectCell::Sharded(_) => {
            unreachable!("the model runs plain word algorithms only")
        }
    }
}

/// What a snapshot and restore at `now` must do to one key's state, written
/// from the spec (DESIGN §5, FORMAT.md) independently of `clamp.rs`: expired
/// states are dropped; states beyond what the algorithm can reach by `now` are
/// clamped. `r` is the radix of the live limiter's window states (the widest its
/// period allows, so that `set_quota` keeps them; a file holds `L + 1`).
fn model_restore(q: &Quota, a: Algorithm, r: u64, state: u64, now: Nanos) -> u64 {
    let p = q.period().as_nanos() as u64;
    match a {
        Algorithm::TokenBucket | Algorithm::LeakyBucket => {
            let t = q.emission_interval().as_nanos() as u64;
            if state <= now {
                0
            } else {
                state.min(now + t * u64::from(q.burst()))
            }
        }
        Algorithm::FixedWindow => {
            let (k, count) = (state / r, state % r);
            if (k + 1).saturating_mul(p) <= now {
                0
            } else {
                k.min(now / p) * r + count
            }
        }
        _ => {
            let (k, rest) = (state / r / r, state % (r * r));
            if (k + 2).saturating_mul(p) <= now {
                0
            } else {
                k.min(now / p) * r * r + rest
            }
        }
    }
}

/// Arbitrary operations on a keyed limiter against a sequential model: one direct
/// limiter per key, on the same clock. Every answer must be identical, through
/// check, check_n, peek, reset, clock moves and snapshot / restore (in place, into
/// a fresh limiter with other seeds, or into one that already holds other keys).
///
/// The clock only moves forward: once a key's state has expired the table may give
/// its slot to another key, after which a clock set back would find the key blank
/// while its model still holds the stale state (a documented difference: an
/// expired state is the same as none only from then on).
///
/// Returns how many operations ran and how many of them were restores (so that
/// the corpus replay can tell that its seeds reach the interesting steps).
pub fn ops_model(data: &[u8]) -> (usize, usize) {
    let mut counts = (0, 0);
    let _ = run_ops(&mut Input(data), &mut counts);
    counts
}

fn run_ops(u: &mut Input<'_>, counts: &mut (usize, usize)) -> Option<()> {
    let algorithm = WORD_ALGORITHMS[usize::from(u.u8()?) % WORD_ALGORITHMS.len()];
    let limit = u32::from(u.u8()? % 8) + 1;
    const UNITS: [u64; 4] = [1, 1_000, 1_000_000, 1_000_000_000];
    let period = UNITS[usize::from(u.u8()? % 4)] * (u64::from(u.u8()?) + 1);
    let mut quota = Quota::new(limit, Duration::from_nanos(period)).ok()?;
    let burst = u.u8()?;
    if burst % 4 == 0 && matches!(algorithm, Algorithm::TokenBucket | Algorithm::LeakyBucket) {
        quota = quota.with_burst(u32::from(burst / 4 % 16) + 1).ok()?;
    }
    let clock = ManualClock::new();
    clock.set_nanos(u.u64()? >> 4);
    let seeds = [u.u64()?, u.u64()?, u.u64()?, u.u64()?];
    // Four groups of eight slots: a key's two candidate groups hold 16 slots and
    // there are 16 keys, so no key ever finds its groups full of others (the model
    // knows no eviction), while keys share groups and reuse each other's dead
    // slots all the time.
    let build = |seeds: [u64; 4]| {
        let mut lim = Limiter::builder(quota)
            .algorithm(algorithm)
            .capacity(1)
            .clock(clock.clone())
            .build()
            .ok()?;
        lim.store.replace_table(Table::with_groups(4, seeds)?);
        Some(lim)
    };
    let mut keyed = build(seeds)?;
    let model: [DirectLimiter<ManualClock>; KEYS] = core::array::from_fn(|_| {
        DirectLimiter::builder(quota)
            .algorithm(algorithm)
            .clock(clock.clone())
            .build()
            .expect("the keyed limiter accepted the same configuration")
    });
    let max = if matches!(algorithm, Algorithm::TokenBucket | Algorithm::LeakyBucket) {
        quota.burst()
    } else {
        quota.limit()
    };
    loop {
        let op = u.u8()?;
        counts.0 += 1;
        let k = usize::from(op >> 4) % KEYS;
        let key = k as u8;
        match op % 8 {
            0 | 1 => assert_eq!(keyed.check(&key), model[k].check(), "check {k}"),
            2 => {
                let n = u32::from(u.u8()?) % (max + 2);
                assert_eq!(
                    keyed.check_n(&key, n),
                    model[k].check_n(n),
                    "check_n {k} {n}"
                );
            }
            3 => assert_eq!(keyed.peek(&key), model[k].peek(), "peek {k}"),
            4 => {
                keyed.reset(&key);
                model[k].reset();
            }
            5 => {
                // Mostly steps of a fraction of the period, sometimes far.
                let x = u64::from(u.u8()?);
                let by = if x < 200 { x * period / 64 } else { x * period };
                clock.set_nanos(clock.now().saturating_add(by).min(1 << 62));
            }
            6 => {
                let (bytes, saved) = keyed.snapshot_bytes().expect("word algorithms save");
                let how = u.u8()?;
                // The restoring side's clock may have moved on since the save.
                clock.set_nanos(
                    clock
                        .now()
                        .saturating_add(u64::from(how >> 2) * period / 16)
                        .min(1 << 62),
                );
                let now = clock.now();
                if how % 4 != 0 {
                    let fresh = build(crate::table::random_seeds()).expect("built once already");
                    if how % 4 == 2 {
                        // Keys the fresh limiter holds are replaced by the file's.
                        for other in 0..KEYS as u8 {
                            let _ = fresh.check(&other);
                        }
                    }
                    keyed = fresh;
                }
                counts.1 += 1;
                let info = keyed
                    .restore_bytes(&bytes)
                    .expect("a fresh snapshot restores");
                assert_eq!(info.entries, saved.entries);
                let mut live = 0;
                for m in &model {
                    let r = m.params.load().radix;
                    let s = model_restore(&quota, algorithm, r, word(m).load(), now);
                    word(m).store(s);
                    live += u64::from(s != 0);
                }
                assert_eq!(
                    info.restored, live,
                    "restored entries = the model's live keys"
                );
                assert_eq!(keyed.len() as u64, live);
            }
            _ => {
                for (k, m) in model.iter().enumerate() {
                    assert_eq!(keyed.peek(&(k as u8)), m.peek(), "peek {k}");
                }
            }
        }
    }
}
