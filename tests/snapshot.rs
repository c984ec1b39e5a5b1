//! Snapshots end to end: exact decisions after a round trip (every algorithm, the
//! sliding-window log's times included), time offline, every kind of damaged,
//! foreign or hand-crafted file refused with its exact reason and the limiter
//! untouched, the bytes on disk, atomic replacement, and the fuzz corpora replayed.

#![cfg(not(loom))]

use ratecell::snapshot::{EntryProblem, Refusal, SnapshotFile, SnapshotKind};
use ratecell::{Algorithm, Decision, DirectLimiter, Limiter, ManualClock, Quota, SnapshotError};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::Duration;

const ALGORITHMS: [Algorithm; 5] = [
    Algorithm::TokenBucket,
    Algorithm::LeakyBucket,
    Algorithm::FixedWindow,
    Algorithm::SlidingWindowLog,
    Algorithm::SlidingWindowCounter,
];

const SEEDS: [u64; 4] = [0x1111, 0x2222, 0x3333, 0x4444];
/// A start well into the timeline, like a real clock's.
const T0: Duration = Duration::from_secs(1_700_000_000);

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("ratecell-snapshot-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn keyed(
    q: Quota,
    alg: Algorithm,
    capacity: usize,
    clock: &ManualClock,
    seeds: Option<[u64; 4]>,
) -> Limiter<ManualClock> {
    let b = Limiter::builder(q)
        .algorithm(alg)
        .capacity(capacity)
        .clock(clock.clone());
    match seeds {
        Some(s) => b.hash_seeds(s).build(),
        None => b.build(),
    }
    .unwrap()
}

fn refusal(r: Result<impl std::fmt::Debug, SnapshotError>) -> Refusal {
    match r {
        Err(SnapshotError::Refused { reason, .. }) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// CRC-32C, bit by bit (independent of the crate's table-driven / hardware one).
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// `bytes` with its checksum recomputed: a well-formed file with other contents.
fn resealed(mut bytes: Vec<u8>) -> Vec<u8> {
    let n = bytes.len() - 4;
    let crc = crc32c(&bytes[..n]);
    bytes[n..].copy_from_slice(&crc.to_le_bytes());
    bytes
}

/// LEB128, written from FORMAT.md (independent of the crate's encoder): seven
/// bits per byte, low bits first, the high bit set on every byte but the last.
fn leb(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out
}

/// The length of the varint at the start of `b`.
fn leb_len(b: &[u8]) -> usize {
    b.iter().position(|x| x & 0x80 == 0).unwrap() + 1
}

/// `u64::MAX` as a varint: nine 0xFF bytes and a final 0x01.
fn leb_max() -> Vec<u8> {
    let mut v = vec![0xFF; 9];
    v.push(0x01);
    v
}

/// A valid tag: bit 55 (the top bit of the seventh byte) set.
const TAG: [u8; 7] = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x80];
const TAG2: [u8; 7] = [0x99, 0x88, 0x77, 0x66, 0x55, 0x44, 0xC3];

/// A keyed entry's bytes: the slot gap's varint, the tag, then `rest` (a word
/// algorithm's state varint, or a log's count and times).
fn keyed_entry(gap: &[u8], tag: [u8; 7], rest: &[u8]) -> Vec<u8> {
    [gap, &tag[..], rest].concat()
}

/// A file with `header` (a good file's first 120 bytes), announcing `count`
/// entries, followed by `body` and a valid checksum.
fn crafted(header: &[u8], count: u64, body: &[u8]) -> Vec<u8> {
    let mut b = header[..120].to_vec();
    b[112..120].copy_from_slice(&count.to_le_bytes());
    b.extend_from_slice(body);
    b.extend_from_slice(&[0; 4]);
    resealed(b)
}

fn nanos(d: Duration) -> u64 {
    d.as_nanos() as u64
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A mixed workload over 300 keys: costs up to the maximum, time steps of a
/// fraction of the period. Returns every decision.
fn drive(
    lims: &[&Limiter<ManualClock>],
    clock: &ManualClock,
    max: u32,
    rng: &mut Rng,
    ops: usize,
) -> Vec<Decision> {
    let period = lims[0].quota().period().as_nanos() as u64;
    let mut out = Vec::new();
    for _ in 0..ops {
        match rng.below(10) {
            0 => clock.advance(Duration::from_nanos(rng.below(period / 64))),
            1 => {
                let k = rng.below(300);
                let ds: Vec<Decision> = lims.iter().map(|l| l.peek(&k)).collect();
                out.extend(ds);
            }
            _ => {
                let k = rng.below(300);
                let n = 1 + rng.below(u64::from(max)) as u32;
                for l in lims {
                    out.push(l.check_n(&k, n).unwrap());
                }
            }
        }
    }
    out
}

#[test]
fn a_round_trip_keeps_every_key_s_exact_decisions() {
    for alg in ALGORITHMS {
        let dir = TempDir::new(&format!("round-trip-{alg:?}"));
        let path = dir.file("limits.snap");
        let q = Quota::per_minute(7).unwrap();
        let clock = ManualClock::new();
        clock.set(T0);
        let original = keyed(q, alg, 1_000, &clock, Some(SEEDS));
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        drive(&[&original], &clock, 7, &mut rng, 2_000);
        let live = original.len() as u64;
        assert!(
            live > 50,
            "{alg:?}: the workload leaves many keys live ({live})"
        );
        let saved = original.snapshot_to(&path).unwrap();
        assert_eq!(saved.entries, live, "{alg:?}");
        assert_eq!(saved.duplicates, 0);
        // A log entry holds its live times, oldest first, and its state is 1 + the
        // newest; the other algorithms' entries hold no times.
        let file = SnapshotFile::read(&path).unwrap();
        let saved_at = file.header().saved_at;
        let mut times_saved = 0;
        for e in file.entries() {
            let times: Vec<u64> = e.log.collect();
            if alg == Algorithm::SlidingWindowLog {
                assert!((1..=7).contains(&times.len()), "{times:?}");
                assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
                // In the window (saved_at - 1 min, saved_at] at the save.
                let (oldest, newest) = (times[0], times[times.len() - 1]);
                assert!(oldest > saved_at - 60_000_000_000, "{oldest} {saved_at}");
                assert!(newest <= saved_at, "{newest} {saved_at}");
                assert_eq!(e.state, newest + 1);
            } else {
                assert!(times.is_empty());
            }
            times_saved += times.len();
        }
        if alg == Algorithm::SlidingWindowLog {
            assert!(
                times_saved > 2 * live as usize,
                "{times_saved} times in {live} logs"
            );
        }

        // Random seeds: the restore must adopt the file's, or no key is found.
        let restored = keyed(q, alg, 1_000, &clock, None);
        let info = restored.restore_from(&path).unwrap();
        assert_eq!(
            (info.entries, info.restored, info.expired, info.clamped),
            (live, live, 0, 0),
            "{alg:?}"
        );
        assert_eq!(info.saved_at, saved.saved_at);
        assert_eq!(restored.len() as u64, live);
        for k in 0..300u64 {
            assert_eq!(restored.peek(&k), original.peek(&k), "{alg:?} key {k}");
        }
        // Saved again at the same moment: the very same file.
        let again = dir.file("again.snap");
        restored.snapshot_to(&again).unwrap();
        assert_eq!(
            fs::read(&again).unwrap(),
            fs::read(&path).unwrap(),
            "{alg:?}"
        );
        // And from here on both answer every request alike.
        let ds = drive(&[&original, &restored], &clock, 7, &mut rng, 3_000);
        for pair in ds.chunks(2) {
            assert_eq!(pair[0], pair[1], "{alg:?}");
        }
    }
}

#[test]
fn time_spent_offline_counts_and_expired_entries_are_dropped() {
    let dir = TempDir::new("offline");
    let path = dir.file("limits.snap");
    // 10 per minute: T = 6 s, a full bucket takes 60 s to refill.
    let q = Quota::per_minute(10).unwrap();
    let clock = ManualClock::new();
    clock.set(T0);
    let lim = keyed(q, Algorithm::TokenBucket, 1_000, &clock, Some(SEEDS));
    // Keys 0..5 drained (TAT = T0 + 60 s); keys 5..8 used 3 (TAT = T0 + 18 s);
    // key 8 used one token 100 s before the save (expired at the save).
    clock.set(T0 - Duration::from_secs(100));
    assert!(lim.check(&8u32).is_allowed());
    clock.set(T0);
    for k in 0..5u32 {
        assert!(lim.check_n(&k, 10).unwrap().is_allowed());
    }
    for k in 5..8u32 {
        assert!(lim.check_n(&k, 3).unwrap().is_allowed());
    }
    let saved = lim.snapshot_to(&path).unwrap();
    assert_eq!((saved.entries, saved.expired), (8, 1));

    // Restarted 30 s later: the drained keys have 5 tokens back, the others are
    // full again and were dropped.
    let later = ManualClock::new();
    later.set(T0 + Duration::from_secs(30));
    let restored = keyed(q, Algorithm::TokenBucket, 1_000, &later, None);
    let info = restored.restore_from(&path).unwrap();
    assert_eq!(
        (info.entries, info.restored, info.expired, info.clamped),
        (8, 5, 3, 0)
    );
    assert_eq!(info.saved_at, T0.as_nanos() as u64);
    for k in 0..5u32 {
        let d = restored.peek(&k);
        assert!(d.is_allowed());
        assert_eq!(d.remaining(), 4, "key {k}: 5 tokens back, peek takes one");
        assert!(restored.check_n(&k, 5).unwrap().is_allowed());
        assert!(!restored.check(&k).is_allowed());
    }
    for k in 5..9u32 {
        assert_eq!(restored.peek(&k).remaining(), 9, "key {k} is full again");
    }
    assert_eq!(restored.len(), 5);

    // Windows: a fixed window saved in one window and restored in the next
    // starts from nothing; restored in the same window keeps its count.
    let fw = keyed(
        Quota::per_minute(3).unwrap(),
        Algorithm::FixedWindow,
        100,
        &clock,
        None,
    );
    clock.set(T0);
    let _ = fw.check_n("w", 3).unwrap();
    fw.snapshot_to(&path).unwrap();
    let same = ManualClock::new();
    same.set(
        T0 + Duration::from_secs(10) - Duration::from_nanos(T0.as_nanos() as u64 % 60_000_000_000),
    );
    let a = keyed(
        Quota::per_minute(3).unwrap(),
        Algorithm::FixedWindow,
        100,
        &same,
        None,
    );
    // T0 is 20 s into its minute; 10 s into the same minute is earlier than the
    // save, but still that window.
    let info = a.restore_from(&path).unwrap();
    assert_eq!((info.restored, info.expired), (1, 0));
    assert!(!a.peek("w").is_allowed());
    let next = ManualClock::new();
    next.set(T0 + Duration::from_secs(40));
    let b = keyed(
        Quota::per_minute(3).unwrap(),
        Algorithm::FixedWindow,
        100,
        &next,
        None,
    );
    let info = b.restore_from(&path).unwrap();
    assert_eq!((info.restored, info.expired), (0, 1));
    assert_eq!(b.peek("w").remaining(), 2);
}

#[test]
fn states_further_ahead_than_the_algorithm_allows_are_clamped() {
    let dir = TempDir::new("clamp");
    let path = dir.file("limits.snap");
    let q = Quota::per_minute(10).unwrap();
    // Saved by a machine whose clock ran an hour ahead.
    let ahead = ManualClock::new();
    ahead.set(T0 + Duration::from_secs(3_600));
    let lim = keyed(q, Algorithm::TokenBucket, 100, &ahead, None);
    let _ = lim.check_n("k", 10).unwrap();
    lim.snapshot_to(&path).unwrap();

    let clock = ManualClock::new();
    clock.set(T0);
    let restored = keyed(q, Algorithm::TokenBucket, 100, &clock, None);
    let info = restored.restore_from(&path).unwrap();
    assert_eq!((info.restored, info.clamped), (1, 1));
    // Exactly as if the key had been drained at T0: not locked out for an hour.
    let drained = DirectLimiter::builder(q)
        .clock(clock.clone())
        .build()
        .unwrap();
    let _ = drained.check_n(10).unwrap();
    assert_eq!(restored.peek("k"), drained.peek());
    assert_eq!(
        restored.peek("k").retry_after(),
        Some(Duration::from_secs(6))
    );
    clock.advance(Duration::from_secs(6));
    assert_eq!(restored.check("k"), drained.check());
    assert!(drained.peek().retry_after().is_some());
}

#[test]
fn restoring_replaces_the_keys_the_limiter_held() {
    let dir = TempDir::new("replace");
    let path = dir.file("limits.snap");
    let q = Quota::per_hour(3).unwrap();
    let clock = ManualClock::new();
    clock.set(T0);
    let source = keyed(q, Algorithm::SlidingWindowCounter, 500, &clock, None);
    let _ = source.check_n("in-file", 2).unwrap();
    source.snapshot_to(&path).unwrap();

    let target = keyed(q, Algorithm::SlidingWindowCounter, 500, &clock, None);
    let _ = target.check_n("only-in-limiter", 3).unwrap();
    let _ = target.check("in-file");
    assert!(!target.peek("only-in-limiter").is_allowed());
    target.restore_from(&path).unwrap();
    assert_eq!(
        target.peek("only-in-limiter").remaining(),
        2,
        "forgotten: full quota"
    );
    assert_eq!(target.peek("in-file"), source.peek("in-file"));
    assert_eq!(target.peek("in-file").remaining(), 0);
    assert_eq!(target.len(), 1);
}

/// Peeks of the file's keys and others, and the live count: what "untouched"
/// means for a limiter.
fn fingerprint_of(lim: &Limiter<ManualClock>) -> (Vec<Decision>, usize) {
    let keys = ["a", "b", "c", "held-1", "held-2", "absent"];
    (keys.iter().map(|k| lim.peek(k)).collect(), lim.len())
}

#[test]
fn a_log_s_time_offline_counts_and_logs_that_left_the_window_are_dropped() {
    let dir = TempDir::new("log-offline");
    let path = dir.file("limits.snap");
    // 10 per minute over a sliding window of exactly one minute.
    let q = Quota::per_minute(10).unwrap();
    let clock = ManualClock::new();
    let lim = keyed(q, Algorithm::SlidingWindowLog, 1_000, &clock, Some(SEEDS));
    let at = |secs_before_t0: u64| T0 - Duration::from_secs(secs_before_t0);
    // Key 8: one admission 100 s before the save (out of the window at the save).
    clock.set(at(100));
    assert!(lim.check(&8u32).is_allowed());
    // Keys 0..3: 4 admissions 50 s before the save and 3 at the save.
    clock.set(at(50));
    for k in 0..3u32 {
        assert!(lim.check_n(&k, 4).unwrap().is_allowed());
    }
    // Keys 3..5: 2 admissions 40 s before the save.
    clock.set(at(40));
    for k in 3..5u32 {
        assert!(lim.check_n(&k, 2).unwrap().is_allowed());
    }
    clock.set(T0);
    for k in 0..3u32 {
        assert!(lim.check_n(&k, 3).unwrap().is_allowed());
    }
    let saved = lim.snapshot_to(&path).unwrap();
    assert_eq!((saved.entries, saved.expired), (5, 1));
    let file = SnapshotFile::read(&path).unwrap();
    let mut lens: Vec<usize> = file.entries().map(|e| e.log.len()).collect();
    lens.sort_unstable();
    assert_eq!(lens, [2, 2, 7, 7, 7]);
    let t0 = nanos(T0);
    for e in file.entries() {
        let times: Vec<u64> = e.log.collect();
        let want = if times.len() == 7 {
            [vec![t0 - 50_000_000_000; 4], vec![t0; 3]].concat()
        } else {
            vec![t0 - 40_000_000_000; 2]
        };
        assert_eq!(times, want);
    }

    // Restarted 25 s later: the window is (T0 - 35 s, T0 + 25 s]. Keys 0..3 keep
    // their 3 admissions at T0 (the 4 at T0 - 50 s left the window); keys 3..5
    // have nothing left in the window and are dropped.
    let later = ManualClock::new();
    later.set(T0 + Duration::from_secs(25));
    let restored = keyed(q, Algorithm::SlidingWindowLog, 1_000, &later, None);
    let info = restored.restore_from(&path).unwrap();
    assert_eq!(
        (info.entries, info.restored, info.expired, info.clamped),
        (5, 3, 2, 0)
    );
    assert_eq!(restored.len(), 3);
    // The original, whose clock also moved on 25 s, answers alike for every key.
    clock.set(T0 + Duration::from_secs(25));
    for k in 0..10u32 {
        assert_eq!(restored.peek(&k), lim.peek(&k), "key {k}");
    }
    for k in 0..3u32 {
        let d = restored.peek(&k);
        assert_eq!(d.remaining(), 6, "key {k}: 3 in the window, peek takes one");
        assert!(restored.check_n(&k, 7).unwrap().is_allowed());
        let denied = restored.check(&k);
        assert!(!denied.is_allowed());
        // The admissions at T0 leave the window at T0 + 60 s.
        assert_eq!(denied.retry_after(), Some(Duration::from_secs(35)));
    }
    for k in 3..9u32 {
        assert_eq!(restored.peek(&k).remaining(), 9, "key {k} is empty again");
    }
}

#[test]
fn log_times_ahead_of_the_restoring_clock_are_clamped_to_it() {
    let dir = TempDir::new("log-clamp");
    let path = dir.file("limits.snap");
    let q = Quota::per_minute(10).unwrap();
    // Saved by a machine whose clock ran an hour ahead.
    let ahead = ManualClock::new();
    ahead.set(T0 + Duration::from_secs(3_600) - Duration::from_secs(20));
    let lim = keyed(q, Algorithm::SlidingWindowLog, 100, &ahead, None);
    let _ = lim.check_n("n", 3).unwrap();
    ahead.advance(Duration::from_secs(20));
    let _ = lim.check_n("k", 10).unwrap();
    let _ = lim.check_n("n", 2).unwrap();
    assert_eq!(lim.snapshot_to(&path).unwrap().entries, 2);

    let clock = ManualClock::new();
    clock.set(T0);
    let restored = keyed(q, Algorithm::SlidingWindowLog, 100, &clock, None);
    let info = restored.restore_from(&path).unwrap();
    assert_eq!((info.restored, info.expired, info.clamped), (2, 0, 2));
    // Exactly as if the admissions had all been made at T0: not locked out for an
    // hour.
    let model = |n: u32| {
        let d = DirectLimiter::builder(q)
            .algorithm(Algorithm::SlidingWindowLog)
            .clock(clock.clone())
            .build()
            .unwrap();
        let _ = d.check_n(n).unwrap();
        d
    };
    let (k, n) = (model(10), model(5));
    assert_eq!(restored.peek("k"), k.peek());
    assert_eq!(restored.peek("n"), n.peek());
    assert_eq!(
        restored.peek("k").retry_after(),
        Some(Duration::from_secs(60))
    );
    assert_eq!(restored.peek("n").remaining(), 4);
    clock.advance(Duration::from_secs(59));
    assert_eq!(restored.check("k"), k.check());
    assert!(!restored.peek("k").is_allowed());
    clock.advance(Duration::from_secs(1));
    for _ in 0..11 {
        assert_eq!(restored.check("k"), k.check());
        assert_eq!(restored.check("n"), n.check());
    }
    assert!(!k.peek().is_allowed());
}

#[test]
fn a_direct_log_entry_is_exactly_as_documented() {
    let dir = TempDir::new("direct-log-bytes");
    let path = dir.file("direct.snap");
    // FORMAT.md's second example: a direct sliding-window log of 3 per second;
    // one admission at 1 s, two at 1.25 s, saved at 1.5 s.
    let clock = ManualClock::new();
    let q = Quota::per_second(3).unwrap();
    let lim = DirectLimiter::builder(q)
        .algorithm(Algorithm::SlidingWindowLog)
        .clock(clock.clone())
        .build()
        .unwrap();
    clock.set_nanos(1_000_000_000);
    let _ = lim.check();
    clock.set_nanos(1_250_000_000);
    let _ = lim.check_n(2).unwrap();
    clock.set_nanos(1_500_000_000);
    let info = lim.snapshot_to(&path).unwrap();
    let b = fs::read(&path).unwrap();
    assert_eq!((info.entries, info.bytes), (1, b.len() as u64));
    #[rustfmt::skip]
    let header: [u8; 40] = [
        0x89, b'R', b'C', b'S', b'N', b'A', b'P', b'\n', // magic
        0x02, 0x00,                                     // format version 2
        0x03,                                           // algorithm: sliding-window log
        0x02,                                           // flags: direct
        0x03, 0x00, 0x00, 0x00,                         // limit 3
        0x00, 0xca, 0x9a, 0x3b, 0x00, 0x00, 0x00, 0x00, // period 1e9 ns
        0x03, 0x00, 0x00, 0x00,                         // burst 3
        0x00, 0x00, 0x00, 0x00,                         // no slots per group
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // no groups
    ];
    assert_eq!(b[..40], header);
    assert_eq!(b[40..104], [0; 64], "no seeds, no fingerprint");
    assert_eq!(b[104..112], 1_500_000_000u64.to_le_bytes(), "saved at");
    assert_eq!(b[112..120], 1u64.to_le_bytes(), "entry count");
    // The log floor is 1.5 s - 1 s + 1 ns = 500,000,001: the first time is stored
    // as 499,999,999 past it, the second 250,000,000 past the first, the third 0
    // past the second.
    #[rustfmt::skip]
    let entry = [
        0x03,                         // 3 times
        0xff, 0xc9, 0xb5, 0xee, 0x01, // 499,999,999: 1 s
        0x80, 0xe5, 0x9a, 0x77,       // +250,000,000: 1.25 s
        0x00,                         // +0: 1.25 s
    ];
    assert_eq!(b[120..b.len() - 4], entry);
    assert_eq!(leb(499_999_999), entry[1..6]);
    assert_eq!(leb(250_000_000), entry[6..10]);
    assert_eq!(b.len(), 120 + 11 + 4);
    assert_eq!(b[131..], crc32c(&b[..131]).to_le_bytes());
    assert_eq!(b[131..], 0x2f95_f437u32.to_le_bytes(), "the CRC32C");
    let file = SnapshotFile::read(&path).unwrap();
    let e: Vec<_> = file.entries().collect();
    assert_eq!(
        (e.len(), e[0].slot, e[0].tag, e[0].state),
        (1, 0, 0, 1_250_000_001)
    );
    assert_eq!(
        e[0].log.collect::<Vec<_>>(),
        [1_000_000_000, 1_250_000_000, 1_250_000_000]
    );
    assert_eq!(file.to_bytes(), b);
    if std::env::var_os("RATECELL_PRINT_EXAMPLE").is_some() {
        print_hex(&b);
    }
}

/// The shortest and longest file of `n` keyed entries, from FORMAT.md: a word
/// entry takes 1 + 7 + 1 to 10 + 7 + 10 bytes, a log entry (limit `L`) 1 + 7 + 2
/// to 10 + 7 + 3 + 10·L.
fn keyed_len_bounds(alg: Algorithm, limit: u64, n: u64) -> (u64, u64) {
    let (min, max) = if alg == Algorithm::SlidingWindowLog {
        (10, 20 + 10 * limit)
    } else {
        (9, 27)
    };
    (124 + min * n, 124 + max * n)
}

/// Thousands of damaged copies of a good two-key file of `alg`: each refused
/// with the reason its damage calls for, the limiter untouched throughout.
fn damaged_files_are_refused(alg: Algorithm) {
    let dir = TempDir::new(&format!("damaged-{alg:?}"));
    let good_path = dir.file("good.snap");
    let path = dir.file("bad.snap");
    let q = Quota::per_second(4).unwrap();
    let clock = ManualClock::new();
    clock.set(T0);
    let source = keyed(q, alg, 1, &clock, Some(SEEDS));
    let _ = source.check("a");
    let _ = source.check_n("b", 2).unwrap();
    source.snapshot_to(&good_path).unwrap();
    let good = fs::read(&good_path).unwrap();
    let (min, max) = keyed_len_bounds(alg, 4, 2);
    let header = ratecell::snapshot::SnapshotHeader::parse(&good).unwrap();
    assert_eq!(header.file_len_bounds(), (min, max));
    let len = good.len() as u64;
    assert!(min <= len && len < max, "{min} <= {len} < {max}");
    if alg == Algorithm::SlidingWindowLog {
        let file = SnapshotFile::read(&good_path).unwrap();
        let mut lens: Vec<usize> = file.entries().map(|e| e.log.len()).collect();
        lens.sort_unstable();
        assert_eq!(lens, [1, 2], "one time for a, two for b");
    }

    let mut target = keyed(q, alg, 1, &clock, None);
    let _ = target.check_n("held-1", 3).unwrap();
    let _ = target.check("held-2");
    let _ = target.check("c");
    let before = fingerprint_of(&target);

    let mut tried = 0;
    let mut attempt = |bytes: &[u8], target: &mut Limiter<ManualClock>| -> Refusal {
        fs::write(&path, bytes).unwrap();
        tried += 1;
        let err = target.restore_from(&path).unwrap_err();
        assert!(err.to_string().contains(path.to_str().unwrap()), "{err}");
        err.reason()
            .unwrap_or_else(|| panic!("not a refusal: {err}"))
    };
    // The inspection API refuses a file for the same reason when nothing about it
    // depends on the limiter (a random header may announce a table the limiter
    // does not have, which a restore reports first).
    let offline = |bytes: &[u8]| SnapshotFile::from_bytes(bytes.to_vec()).unwrap_err();
    let crc_mismatch = |r: Refusal| matches!(r, Refusal::BadChecksum { .. });
    // Every bit of every byte. Past the header the length is unchanged and the
    // checksum, checked before any entry, catches every single-bit error.
    for i in 0..good.len() {
        for bit in 0..8 {
            let mut b = good.clone();
            b[i] ^= 1 << bit;
            let r = attempt(&b, &mut target);
            assert_eq!(offline(&b), r);
            if i < 8 {
                assert_eq!(r, Refusal::BadMagic);
            }
            if i >= 120 {
                assert!(crc_mismatch(r), "byte {i} bit {bit}: {r:?}");
            }
        }
    }
    // Every truncation: shorter than the header, or than the count's shortest
    // file, is `Truncated`; longer (entries are variable-length) fails the
    // checksum.
    for cut in 0..good.len() {
        let r = attempt(&good[..cut], &mut target);
        assert_eq!(offline(&good[..cut]), r);
        let cut = cut as u64;
        match cut {
            0..=119 => assert_eq!(
                r,
                Refusal::Truncated {
                    len: cut,
                    expected: 120
                }
            ),
            _ if cut < min => assert_eq!(
                r,
                Refusal::Truncated {
                    len: cut,
                    expected: min
                }
            ),
            _ => assert!(crc_mismatch(r), "len {cut}: {r:?}"),
        }
    }
    // Appended bytes: past the count's longest file `TrailingBytes`, before it the
    // checksum.
    for extra in 1..=max - len + 8 {
        let mut b = good.clone();
        b.extend((0..extra).map(|i| i as u8));
        let r = attempt(&b, &mut target);
        assert_eq!(offline(&b), r);
        if len + extra > max {
            assert_eq!(
                r,
                Refusal::TrailingBytes {
                    len: len + extra,
                    expected: max
                }
            );
        } else {
            assert!(crc_mismatch(r), "{extra} appended: {r:?}");
        }
    }
    // Random bytes; random bytes behind a valid header; random overwrites.
    let mut rng = Rng(0xDEAD_BEEF_CAFE_F00D);
    for round in 0..1_500 {
        let len = rng.below(300) as usize;
        let mut b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if round % 3 == 1 {
            b = good[..120.min(len)].to_vec();
            b.extend((0..len.saturating_sub(120)).map(|_| rng.next() as u8));
        } else if round % 3 == 2 {
            b = good.clone();
            for _ in 0..1 + rng.below(6) {
                let i = rng.below(good.len() as u64) as usize;
                b[i] = rng.next() as u8;
            }
            if b == good {
                continue;
            }
        }
        attempt(&b, &mut target);
    }
    assert!(tried > 2_500, "{tried} files tried");
    assert_eq!(fingerprint_of(&target), before);
    // The undamaged file still restores.
    target.restore_from(&good_path).unwrap();
    assert_eq!(target.peek("a"), source.peek("a"));
    assert_eq!(target.peek("b"), source.peek("b"));
    assert_eq!(target.peek("held-1").remaining(), 3);
}

#[test]
fn thousands_of_damaged_files_are_refused_and_leave_the_limiter_untouched() {
    damaged_files_are_refused(Algorithm::TokenBucket);
}

#[test]
fn thousands_of_damaged_log_files_are_refused_and_leave_the_limiter_untouched() {
    damaged_files_are_refused(Algorithm::SlidingWindowLog);
}

#[test]
fn foreign_and_malformed_files_are_refused_with_the_right_reason() {
    let dir = TempDir::new("foreign");
    let path = dir.file("limits.snap");
    let clock = ManualClock::new();
    clock.set(T0);
    let q5 = Quota::per_second(5).unwrap();
    let source = keyed(q5, Algorithm::TokenBucket, 1, &clock, Some(SEEDS));
    let _ = source.check("a");
    let _ = source.check("b");
    source.snapshot_to(&path).unwrap();
    let good = fs::read(&path).unwrap();
    let with = |bytes: Vec<u8>| {
        fs::write(&path, &bytes).unwrap();
        path.clone()
    };

    let other_quota = keyed(
        Quota::per_second(6).unwrap(),
        Algorithm::TokenBucket,
        1,
        &clock,
        None,
    );
    assert_eq!(
        refusal(other_quota.restore_from(with(good.clone()))),
        Refusal::QuotaMismatch {
            file: q5,
            limiter: Quota::per_second(6).unwrap()
        }
    );
    let other_alg = keyed(q5, Algorithm::LeakyBucket, 1, &clock, None);
    assert_eq!(
        refusal(other_alg.restore_from(&path)),
        Refusal::AlgorithmMismatch {
            file: Algorithm::TokenBucket,
            limiter: Algorithm::LeakyBucket
        }
    );
    let bigger = keyed(q5, Algorithm::TokenBucket, 10_000, &clock, None);
    assert!(matches!(
        refusal(bigger.restore_from(&path)),
        Refusal::CapacityMismatch {
            file: (1024, 8),
            limiter: (1825, 8)
        }
    ));
    let direct = DirectLimiter::builder(q5)
        .clock(clock.clone())
        .build()
        .unwrap();
    assert_eq!(
        refusal(direct.restore_from(&path)),
        Refusal::KindMismatch {
            file: SnapshotKind::Keyed
        }
    );
    // An explicit burst equal to the limit is the same quota.
    let same = keyed(
        q5.with_burst(5).unwrap(),
        Algorithm::TokenBucket,
        1,
        &clock,
        None,
    );
    assert_eq!(same.restore_from(&path).unwrap().restored, 2);
    assert_eq!(same.peek("a"), source.peek("a"));

    // Well-formed files (valid checksum) with one field changed.
    let target = keyed(q5, Algorithm::TokenBucket, 1, &clock, None);
    let edit = |at: usize, new: &[u8]| {
        let mut b = good.clone();
        b[at..at + new.len()].copy_from_slice(new);
        resealed(b)
    };
    // The first entry's length: its gap varint, the tag, its state varint.
    let e0_len = {
        let gap = leb_len(&good[120..]);
        gap + 7 + leb_len(&good[120 + gap + 7..])
    };
    let len = good.len() as u64;
    // Two entries of 9 to 27 bytes each (FORMAT.md): three need at least 151.
    assert!(len < 151, "{len}");
    let cases: Vec<(Vec<u8>, Refusal)> = vec![
        (
            // A file from before the table's halves (FORMAT.md, *History*).
            edit(8, &1u16.to_le_bytes()),
            Refusal::UnsupportedVersion {
                found: 1,
                supported: 2,
            },
        ),
        (
            edit(8, &3u16.to_le_bytes()),
            Refusal::UnsupportedVersion {
                found: 3,
                supported: 2,
            },
        ),
        (
            edit(8, &0u16.to_le_bytes()),
            Refusal::UnsupportedVersion {
                found: 0,
                supported: 2,
            },
        ),
        (edit(10, &[5]), Refusal::UnknownAlgorithm { id: 5 }),
        (edit(10, &[9]), Refusal::UnknownAlgorithm { id: 9 }),
        (
            edit(11, &[4]),
            Refusal::BadHeader("reserved flag bits are set"),
        ),
        (
            edit(16, &0u64.to_le_bytes()),
            Refusal::BadHeader("the quota is invalid"),
        ),
        (
            edit(24, &6u32.to_le_bytes()),
            Refusal::BadHeader("burst differs from the limit without the explicit-burst flag"),
        ),
        (
            edit(40, &0x1112u64.to_le_bytes()),
            Refusal::FingerprintMismatch,
        ),
        (edit(72, &1u64.to_le_bytes()), Refusal::FingerprintMismatch),
        (
            edit(112, &3u64.to_le_bytes()),
            Refusal::Truncated { len, expected: 151 },
        ),
        (
            edit(112, &1u64.to_le_bytes()),
            Refusal::TrailingBytes {
                len,
                expected: (120 + e0_len + 4) as u64,
            },
        ),
        (
            edit(112, &8193u64.to_le_bytes()),
            Refusal::TooManyEntries {
                entries: 8193,
                slots: 8192,
            },
        ),
    ];
    let before = fingerprint_of(&target);
    for (bytes, want) in cases {
        assert_eq!(
            SnapshotFile::from_bytes(bytes.clone()).unwrap_err(),
            want,
            "offline"
        );
        assert_eq!(refusal(target.restore_from(with(bytes))), want);
        assert_eq!(fingerprint_of(&target), before);
    }
    // A damaged checksum alone, and a file that is no snapshot.
    let mut b = good.clone();
    *b.last_mut().unwrap() ^= 0x80;
    let r = refusal(target.restore_from(with(b)));
    assert!(matches!(r, Refusal::BadChecksum { .. }));
    let err = target
        .restore_from(with(b"hello, world\n".to_vec()))
        .unwrap_err();
    assert_eq!(err.reason(), Some(Refusal::BadMagic));
    assert_eq!(
        err.to_string(),
        format!(
            "snapshot {}: not a ratecell snapshot (bad magic bytes)",
            path.display()
        )
    );
    let missing = target.restore_from(dir.file("missing.snap")).unwrap_err();
    assert!(matches!(
        missing,
        SnapshotError::Io {
            op: "open",
            kind: std::io::ErrorKind::NotFound,
            ..
        }
    ));
    assert_eq!(fingerprint_of(&target), before);

    // Algorithm id 3 is the sliding-window log: a well-formed log file is refused
    // by a token bucket (and the reverse) for its algorithm, not its format.
    let log = keyed(q5, Algorithm::SlidingWindowLog, 1, &clock, Some(SEEDS));
    let _ = log.check_n("a", 2).unwrap();
    let log_path = dir.file("log.snap");
    log.snapshot_to(&log_path).unwrap();
    assert_eq!(fs::read(&log_path).unwrap()[10], 3);
    assert_eq!(
        refusal(target.restore_from(&log_path)),
        Refusal::AlgorithmMismatch {
            file: Algorithm::SlidingWindowLog,
            limiter: Algorithm::TokenBucket
        }
    );
    assert_eq!(
        refusal(log.restore_from(with(good.clone()))),
        Refusal::AlgorithmMismatch {
            file: Algorithm::TokenBucket,
            limiter: Algorithm::SlidingWindowLog
        }
    );
    // The same header with id 3 and no entries is a valid (empty) log file.
    let empty_log = crafted(&edit(10, &[3]), 0, &[]);
    assert_eq!(
        refusal(target.restore_from(with(empty_log.clone()))),
        Refusal::AlgorithmMismatch {
            file: Algorithm::SlidingWindowLog,
            limiter: Algorithm::TokenBucket
        }
    );
    assert_eq!(fingerprint_of(&target), before);
    let info = log.restore_from(with(empty_log)).unwrap();
    assert_eq!((info.entries, info.restored), (0, 0));
    assert_eq!(log.len(), 0);
}

/// Hand-crafted files, each valid but for one entry (checksum recomputed): the
/// exact `Refusal` for each `EntryProblem`, for entries running out and for bytes
/// after the last one, with the limiter untouched; and the files just inside
/// each limit are accepted.
#[test]
fn every_malformed_entry_is_refused_with_its_exact_reason() {
    let dir = TempDir::new("entries");
    let path = dir.file("crafted.snap");
    let clock = ManualClock::new();
    clock.set(T0);
    let t0 = nanos(T0);
    let q = Quota::per_second(5).unwrap();
    let header_of = |alg: Algorithm| {
        keyed(q, alg, 1, &clock, Some(SEEDS))
            .snapshot_to(&path)
            .unwrap();
        fs::read(&path).unwrap()[..120].to_vec()
    };
    // Keyed headers, saved at T0, of tables of 1024 × 8 = 8192 slots.
    let (tb, log) = (
        header_of(Algorithm::TokenBucket),
        header_of(Algorithm::SlidingWindowLog),
    );
    // A bucket's state floor: the smallest TAT live at the save.
    let floor = t0 + 1;
    // The log's floor: the oldest time in the window (T0 - 1 s, T0].
    let log_floor = t0 - 1_000_000_000 + 1;
    let bad = |index: u64, problem: EntryProblem| Refusal::BadEntry { index, problem };
    let ok = keyed_entry(&[0], TAG, &[0]);
    let ok_log = keyed_entry(&[0], TAG, &[1, 0]);
    let mut bad_tag = TAG;
    bad_tag[6] = 0x7F;
    let cat = |parts: &[&[u8]]| parts.concat();
    use EntryProblem::*;
    let keyed_cases: Vec<(&str, &[u8], Vec<u8>, Refusal)> = vec![
        // BadTag.
        (
            "tag bit 55 clear",
            &tb[..],
            crafted(&tb, 1, &keyed_entry(&[0], bad_tag, &[0])),
            bad(0, BadTag),
        ),
        (
            "an all-zero tag in the second entry",
            &tb[..],
            crafted(&tb, 2, &cat(&[&ok, &keyed_entry(&[0], [0; 7], &[0])])),
            bad(1, BadTag),
        ),
        (
            "a log's tag bit 55 clear",
            &log[..],
            crafted(&log, 1, &keyed_entry(&[0], bad_tag, &[1, 0])),
            bad(0, BadTag),
        ),
        // BadVarint: overlong (a final zero byte), or past 64 bits.
        (
            "overlong gap 80 00",
            &tb[..],
            crafted(&tb, 1, &keyed_entry(&[0x80, 0x00], TAG, &[0])),
            bad(0, BadVarint),
        ),
        (
            "overlong state 85 80 00",
            &tb[..],
            crafted(&tb, 1, &keyed_entry(&[0], TAG, &[0x85, 0x80, 0x00])),
            bad(0, BadVarint),
        ),
        (
            "overlong in the second entry",
            &tb[..],
            crafted(&tb, 2, &cat(&[&ok, &keyed_entry(&[0], TAG, &[0xFF, 0x00])])),
            bad(1, BadVarint),
        ),
        (
            "ten bytes ending in 00",
            &tb[..],
            crafted(&tb, 1, &keyed_entry(&[0], TAG, &cat(&[&[0x80; 9], &[0]]))),
            bad(0, BadVarint),
        ),
        (
            "65 bits: a tenth byte of 02",
            &tb[..],
            crafted(
                &tb,
                1,
                &keyed_entry(&[0], TAG, &cat(&[&[0xFF; 9], &[0x02]])),
            ),
            bad(0, BadVarint),
        ),
        (
            "an eleventh byte",
            &tb[..],
            crafted(
                &tb,
                1,
                &keyed_entry(&[0], TAG, &cat(&[&[0x80; 10], &[0x01]])),
            ),
            bad(0, BadVarint),
        ),
        (
            "an overlong log count",
            &log[..],
            crafted(&log, 1, &keyed_entry(&[0], TAG, &[0x81, 0x00, 0])),
            bad(0, BadVarint),
        ),
        (
            "an overlong log time",
            &log[..],
            crafted(&log, 1, &keyed_entry(&[0], TAG, &[2, 0, 0x80, 0x00])),
            bad(0, BadVarint),
        ),
        // StateOverflow.
        (
            "state one past u64::MAX",
            &tb[..],
            crafted(&tb, 1, &keyed_entry(&[0], TAG, &leb(u64::MAX - floor + 1))),
            bad(0, StateOverflow),
        ),
        (
            "state delta u64::MAX",
            &tb[..],
            crafted(&tb, 1, &keyed_entry(&[0], TAG, &leb_max())),
            bad(0, StateOverflow),
        ),
        (
            "log times summing past u64::MAX",
            &log[..],
            crafted(
                &log,
                1,
                &keyed_entry(
                    &[0],
                    TAG,
                    &cat(&[&[2], &leb(u64::MAX - 1 - log_floor), &[2]]),
                ),
            ),
            bad(0, StateOverflow),
        ),
        (
            "a log time of u64::MAX (its state, 1 + the newest, overflows)",
            &log[..],
            crafted(
                &log,
                1,
                &keyed_entry(&[0], TAG, &cat(&[&[1], &leb(u64::MAX - log_floor)])),
            ),
            bad(0, StateOverflow),
        ),
        // BadLogLength: 1 <= count <= limit (5).
        (
            "a log of no time",
            &log[..],
            crafted(&log, 1, &keyed_entry(&[0], TAG, &[0, 0])),
            bad(0, BadLogLength),
        ),
        (
            "a log of 6 times, limit 5",
            &log[..],
            crafted(&log, 1, &keyed_entry(&[0], TAG, &[6, 0, 0, 0, 0, 0, 0])),
            bad(0, BadLogLength),
        ),
        (
            "a log of u64::MAX times",
            &log[..],
            crafted(
                &log,
                2,
                &cat(&[&ok_log, &keyed_entry(&[0], TAG, &leb_max())]),
            ),
            bad(1, BadLogLength),
        ),
        // SlotOutOfRange.
        (
            "gap 8192 in a table of 8192 slots",
            &tb[..],
            crafted(&tb, 1, &keyed_entry(&leb(8192), TAG, &[0])),
            bad(0, SlotOutOfRange),
        ),
        (
            "a second entry after slot 8191",
            &tb[..],
            crafted(&tb, 2, &cat(&[&keyed_entry(&leb(8191), TAG, &[0]), &ok])),
            bad(1, SlotOutOfRange),
        ),
        (
            "a gap that overflows u64",
            &tb[..],
            crafted(&tb, 2, &cat(&[&ok, &keyed_entry(&leb_max(), TAG, &[0])])),
            bad(1, SlotOutOfRange),
        ),
        (
            "a log's gap past the table",
            &log[..],
            crafted(&log, 1, &keyed_entry(&leb(9000), TAG, &[1, 0])),
            bad(0, SlotOutOfRange),
        ),
        // TrailingBytes: bytes after the last entry, or longer than the count allows.
        (
            "a byte after the last entry",
            &tb[..],
            crafted(&tb, 1, &cat(&[&ok, &[0]])),
            Refusal::TrailingBytes {
                len: 134,
                expected: 133,
            },
        ),
        (
            "a byte after the last log",
            &log[..],
            crafted(&log, 1, &cat(&[&ok_log, &[1]])),
            Refusal::TrailingBytes {
                len: 135,
                expected: 134,
            },
        ),
        (
            "longer than one entry can be (27 bytes)",
            &tb[..],
            crafted(&tb, 1, &cat(&[&ok, &[0; 19]])),
            Refusal::TrailingBytes {
                len: 152,
                expected: 151,
            },
        ),
        // Truncated: the entries run out, or shorter than the count allows.
        (
            "the last varint runs out",
            &tb[..],
            crafted(&tb, 1, &keyed_entry(&[0], TAG, &[0x80])),
            Refusal::Truncated {
                len: 133,
                expected: 134,
            },
        ),
        (
            "the second entry's tag runs out",
            &tb[..],
            crafted(
                &tb,
                2,
                &cat(&[&keyed_entry(&[0], TAG, &leb(1 << 56)), &[0]]),
            ),
            Refusal::Truncated {
                len: 142,
                expected: 143,
            },
        ),
        (
            "no bytes left for the second entry",
            &tb[..],
            crafted(&tb, 2, &keyed_entry(&[0], TAG, &leb(1 << 63))),
            Refusal::Truncated {
                len: 142,
                expected: 143,
            },
        ),
        (
            "a log's times run out",
            &log[..],
            crafted(&log, 1, &keyed_entry(&[0], TAG, &[3, 0, 0])),
            Refusal::Truncated {
                len: 135,
                expected: 136,
            },
        ),
        (
            "shorter than two entries can be (9 bytes each)",
            &tb[..],
            crafted(&tb, 2, &ok),
            Refusal::Truncated {
                len: 133,
                expected: 142,
            },
        ),
    ];
    let target_tb = keyed(q, Algorithm::TokenBucket, 1, &clock, None);
    let target_log = keyed(q, Algorithm::SlidingWindowLog, 1, &clock, None);
    for t in [&target_tb, &target_log] {
        let _ = t.check_n("held-1", 3).unwrap();
        let _ = t.check("held-2");
        let _ = t.check("c");
    }
    let before = (fingerprint_of(&target_tb), fingerprint_of(&target_log));
    for (what, header, bytes, want) in keyed_cases {
        let target = if header == &tb[..] {
            &target_tb
        } else {
            &target_log
        };
        assert_refused(&bytes, |f| target.restore_from(f), &path, want, what);
        assert_eq!(
            (fingerprint_of(&target_tb), fingerprint_of(&target_log)),
            before,
            "{what}"
        );
    }
    assert_eq!(bad(1, BadVarint).to_string(), "entry 1: a malformed varint");

    // Direct files: no gap and no tag, just the state (or the log).
    let direct = |alg: Algorithm| {
        DirectLimiter::builder(q)
            .algorithm(alg)
            .clock(clock.clone())
            .build()
            .unwrap()
    };
    let header_of = |alg: Algorithm| {
        direct(alg).snapshot_to(&path).unwrap();
        fs::read(&path).unwrap()[..120].to_vec()
    };
    let (dtb, dlog) = (
        header_of(Algorithm::TokenBucket),
        header_of(Algorithm::SlidingWindowLog),
    );
    let direct_cases: Vec<(&str, Vec<u8>, Refusal)> = vec![
        (
            "overlong state",
            crafted(&dtb, 1, &[0x80, 0x00]),
            bad(0, BadVarint),
        ),
        (
            "state past the timeline",
            crafted(&dtb, 1, &leb_max()),
            bad(0, StateOverflow),
        ),
        (
            "a byte after the entry",
            crafted(&dtb, 1, &[0, 0]),
            Refusal::TrailingBytes {
                len: 126,
                expected: 125,
            },
        ),
        (
            "the state runs out",
            crafted(&dtb, 1, &[0x80]),
            Refusal::Truncated {
                len: 125,
                expected: 126,
            },
        ),
        (
            "a log of no time",
            crafted(&dlog, 1, &[0, 0]),
            bad(0, BadLogLength),
        ),
        (
            "a log of 6 times",
            crafted(&dlog, 1, &[6, 0, 0, 0, 0, 0, 0]),
            bad(0, BadLogLength),
        ),
        (
            "a log time past the timeline",
            crafted(&dlog, 1, &cat(&[&[2], &leb(u64::MAX - log_floor), &[1]])),
            bad(0, StateOverflow),
        ),
    ];
    let (d_tb, d_log) = (
        direct(Algorithm::TokenBucket),
        direct(Algorithm::SlidingWindowLog),
    );
    let _ = d_tb.check_n(2).unwrap();
    let _ = d_log.check_n(3).unwrap();
    let before = (d_tb.peek(), d_log.peek());
    for (what, bytes, want) in direct_cases {
        let target = if bytes[10] == 3 { &d_log } else { &d_tb };
        assert_refused(&bytes, |f| target.restore_from(f), &path, want, what);
        assert_eq!((d_tb.peek(), d_log.peek()), before, "{what}");
    }

    // Just inside every limit: the last slot, the largest state, a full log, the
    // latest time. States past the clock are clamped on restore.
    let edge = crafted(
        &tb,
        2,
        &cat(&[
            &keyed_entry(&[0], TAG, &leb(u64::MAX - floor)),
            &keyed_entry(&leb(8190), TAG2, &[0]),
        ]),
    );
    let file = SnapshotFile::from_bytes(edge.clone()).unwrap();
    let got: Vec<_> = file.entries().map(|e| (e.slot, e.state)).collect();
    assert_eq!(got, [(0, u64::MAX), (8191, floor)]);
    let info = target_tb.restore_from(with_file(&path, &edge)).unwrap();
    assert_eq!((info.restored, info.expired, info.clamped), (2, 0, 1));
    let edge = crafted(
        &log,
        2,
        &cat(&[
            &keyed_entry(&[0], TAG, &[5, 0, 0, 0, 0, 0]),
            &keyed_entry(
                &leb(8190),
                TAG2,
                &cat(&[&[1], &leb(u64::MAX - 1 - log_floor)]),
            ),
        ]),
    );
    let file = SnapshotFile::from_bytes(edge.clone()).unwrap();
    let got: Vec<_> = file
        .entries()
        .map(|e| (e.slot, e.state, e.log.collect::<Vec<_>>()))
        .collect();
    assert_eq!(
        got,
        [
            (0, log_floor + 1, vec![log_floor; 5]),
            (8191, u64::MAX, vec![u64::MAX - 1])
        ]
    );
    let info = target_log.restore_from(with_file(&path, &edge)).unwrap();
    assert_eq!((info.restored, info.expired, info.clamped), (2, 0, 1));
}

/// `bytes` are refused for `want`, read on their own and restored from a file.
fn assert_refused(
    bytes: &[u8],
    restore: impl FnOnce(PathBuf) -> Result<ratecell::SnapshotInfo, SnapshotError>,
    path: &Path,
    want: Refusal,
    what: &str,
) {
    assert_eq!(
        SnapshotFile::from_bytes(bytes.to_vec()).unwrap_err(),
        want,
        "{what} (offline)"
    );
    assert_eq!(refusal(restore(with_file(path, bytes))), want, "{what}");
}

fn with_file(path: &Path, bytes: &[u8]) -> PathBuf {
    fs::write(path, bytes).unwrap();
    path.to_path_buf()
}

#[test]
fn a_file_too_large_for_the_table_is_refused_without_reading_it() {
    let dir = TempDir::new("large");
    let path = dir.file("limits.snap");
    let clock = ManualClock::new();
    clock.set(T0);
    let q = Quota::per_second(5).unwrap();
    let big = keyed(q, Algorithm::TokenBucket, 20_000, &clock, None);
    for k in 0..10_000u32 {
        let _ = big.check(&k);
    }
    big.snapshot_to(&path).unwrap();
    let small = keyed(q, Algorithm::TokenBucket, 1, &clock, None);
    assert!(matches!(
        refusal(small.restore_from(&path)),
        Refusal::CapacityMismatch { .. }
    ));
}

#[test]
fn a_failed_save_leaves_the_old_file_and_no_temporary_file() {
    let dir = TempDir::new("failed-save");
    let clock = ManualClock::new();
    clock.set(T0);
    let lim = keyed(
        Quota::per_second(5).unwrap(),
        Algorithm::TokenBucket,
        100,
        &clock,
        None,
    );
    let _ = lim.check("a");
    // A directory where the file should go: the rename fails.
    let target = dir.file("limits.snap");
    fs::create_dir(&target).unwrap();
    fs::write(target.join("keep"), b"x").unwrap();
    let err = lim.snapshot_to(&target).unwrap_err();
    assert!(
        matches!(err, SnapshotError::Io { op: "rename", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("limits.snap"), "{err}");
    assert_eq!(dir.names(), vec!["limits.snap".to_string()]);
    assert_eq!(fs::read(target.join("keep")).unwrap(), b"x");
    // A missing directory: nothing is created.
    let err = lim
        .snapshot_to(dir.file("no/such/dir/limits.snap"))
        .unwrap_err();
    assert!(
        matches!(err, SnapshotError::Io { op: "create", .. }),
        "{err}"
    );
    assert_eq!(dir.names(), vec!["limits.snap".to_string()]);
    // A good save replaces the old file whole, mode 0600.
    let path = dir.file("ok.snap");
    fs::write(&path, b"old contents").unwrap();
    lim.snapshot_to(&path).unwrap();
    assert!(SnapshotFile::read(&path).is_ok());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert_eq!(
        dir.names(),
        vec!["limits.snap".to_string(), "ok.snap".to_string()]
    );
}

fn print_hex(b: &[u8]) {
    for (i, row) in b.chunks(16).enumerate() {
        let hex: Vec<String> = row.iter().map(|x| format!("{x:02x}")).collect();
        println!("{:08x}  {}", i * 16, hex.join(" "));
    }
}

#[test]
fn the_bytes_on_disk_are_exactly_as_documented() {
    let dir = TempDir::new("bytes");
    let path = dir.file("limits.snap");
    let clock = ManualClock::new();
    clock.set_nanos(1_000_000_000);
    // FORMAT.md's worked example: 5 per second, capacity 1 (1024 groups of 8).
    let lim = keyed(
        Quota::per_second(5).unwrap(),
        Algorithm::TokenBucket,
        1,
        &clock,
        Some([1, 2, 3, 4]),
    );
    let _ = lim.check("alice");
    let _ = lim.check_n("bob", 3).unwrap();
    let info = lim.snapshot_to(&path).unwrap();
    let b = fs::read(&path).unwrap();
    assert_eq!(info.bytes, b.len() as u64);
    #[rustfmt::skip]
    let header: [u8; 120] = [
        0x89, b'R', b'C', b'S', b'N', b'A', b'P', b'\n', // magic
        0x02, 0x00,                                     // format version 2
        0x00,                                           // algorithm: token bucket
        0x00,                                           // flags: none
        0x05, 0x00, 0x00, 0x00,                         // limit 5
        0x00, 0xca, 0x9a, 0x3b, 0x00, 0x00, 0x00, 0x00, // period 1e9 ns
        0x05, 0x00, 0x00, 0x00,                         // burst 5
        0x08, 0x00, 0x00, 0x00,                         // 8 slots per group
        0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // 1024 groups
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // seed 1
        0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // seed 2
        0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // seed 3
        0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // seed 4
        0xa2, 0x1c, 0xa8, 0x6c, 0xd6, 0xc4, 0x35, 0x4e, // fingerprint 0
        0x79, 0x42, 0x79, 0xae, 0xe5, 0xda, 0x89, 0xc4, // fingerprint 1
        0x63, 0xfe, 0x6a, 0x82, 0x36, 0xa1, 0x9a, 0x47, // fingerprint 2
        0x15, 0x56, 0x4c, 0xda, 0x68, 0x92, 0x41, 0xa0, // fingerprint 3
        0x00, 0xca, 0x9a, 0x3b, 0x00, 0x00, 0x00, 0x00, // saved at 1e9 ns
        0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // 2 entries
    ];
    // The state floor is 1 s + 1 ns (the smallest TAT live at the save); T = 0.2 s.
    #[rustfmt::skip]
    let entries: [u8; 27] = [
        // "bob" in slot 222 (its home in group 27: slot 6, the tag's low 3 bits):
        // gap 222 from slot 0; tag 0xce6778853a1b86; TAT 1.6 s = floor + 599,999,999.
        0xde, 0x01,
        0x86, 0x1b, 0x3a, 0x85, 0x78, 0x67, 0xce,
        0xff, 0x8b, 0x8d, 0x9e, 0x02,
        // "alice" in slot 1709 (its home in group 213: slot 5): gap
        // 1709 - 223 = 1486; tag 0xa4b035e097740d; TAT 1.2 s = floor + 199,999,999.
        0xce, 0x0b,
        0x0d, 0x74, 0x97, 0xe0, 0x35, 0xb0, 0xa4,
        0xff, 0x83, 0xaf, 0x5f,
    ];
    assert_eq!(b.len(), 120 + 27 + 4);
    assert_eq!(b[..120], header);
    assert_eq!(b[120..147], entries);
    assert_eq!(b[147..], crc32c(&b[..147]).to_le_bytes());
    assert_eq!(b[147..], 0xab78_1720u32.to_le_bytes(), "the CRC32C");
    assert_eq!(
        crc32c(b"123456789"),
        0xE306_9283,
        "the test's own CRC-32C is the standard one"
    );
    // The varints say what the comments say.
    assert_eq!(leb(222), entries[0..2]);
    assert_eq!(leb(1_600_000_000 - 1_000_000_001), entries[9..14]);
    assert_eq!(leb(1709 - 223), entries[14..16]);
    assert_eq!(leb(1_200_000_000 - 1_000_000_001), entries[23..27]);
    // The file reads back through the inspection API as written.
    let file = SnapshotFile::read(&path).unwrap();
    let h = file.header();
    assert_eq!(
        (h.version, h.kind, h.algorithm),
        (2, SnapshotKind::Keyed, Algorithm::TokenBucket)
    );
    assert_eq!(
        (h.group_count, h.slots_per_group, h.seeds, h.entry_count),
        (1024, 8, [1, 2, 3, 4], 2)
    );
    assert_eq!(h.file_len_bounds(), (124 + 2 * 9, 124 + 2 * 27));
    let e: Vec<_> = file
        .entries()
        .map(|e| (e.slot, e.tag, e.state, e.log.len()))
        .collect();
    assert_eq!(
        e,
        [
            (222, 0x00ce_6778_853a_1b86, 1_600_000_000, 0),
            (1709, 0x00a4_b035_e097_740d, 1_200_000_000, 0)
        ]
    );
    assert_eq!(file.live_at(1_000_000_000), (2, 0));
    assert_eq!(file.live_at(1_200_000_000), (1, 1));
    assert_eq!(file.to_bytes(), b);
    if std::env::var_os("RATECELL_PRINT_EXAMPLE").is_some() {
        // For FORMAT.md:
        // RATECELL_PRINT_EXAMPLE=1 cargo test --test snapshot as_documented -- --nocapture
        print_hex(&b);
    }
}

#[test]
fn a_direct_limiter_round_trips_too() {
    let dir = TempDir::new("direct");
    let path = dir.file("direct.snap");
    for alg in ALGORITHMS {
        let clock = ManualClock::new();
        clock.set(T0);
        let q = Quota::per_minute(6).unwrap();
        let lim = DirectLimiter::builder(q)
            .algorithm(alg)
            .clock(clock.clone())
            .build()
            .unwrap();
        let _ = lim.check_n(4).unwrap();
        assert_eq!(lim.snapshot_to(&path).unwrap().entries, 1);
        // The entry is one state varint (from its floor at the save), or a log's
        // count and times. T0 is 20 s into its minute (window k).
        let entry_len = match alg {
            // TAT T0 + 4 × 10 s: 40 s - 1 ns past the floor T0 + 1 ns, 36 bits.
            Algorithm::TokenBucket | Algorithm::LeakyBucket => 6,
            // k·7 + 4, floor k·7: 4.
            Algorithm::FixedWindow => 1,
            // (k·7 + 0)·7 + 4, floor (k - 1)·49: 53.
            Algorithm::SlidingWindowCounter => 1,
            // Count 4; T0 is 60 s - 1 ns past the log floor T0 - 60 s + 1 ns (36
            // bits), then three gaps of 0.
            Algorithm::SlidingWindowLog => 1 + 6 + 3,
            _ => unreachable!(),
        };
        assert_eq!(
            fs::metadata(&path).unwrap().len(),
            120 + entry_len + 4,
            "{alg:?}"
        );
        let back = DirectLimiter::builder(q)
            .algorithm(alg)
            .clock(clock.clone())
            .build()
            .unwrap();
        let _ = back.check();
        let info = back.restore_from(&path).unwrap();
        assert_eq!(
            (info.entries, info.restored, info.expired, info.clamped),
            (1, 1, 0, 0),
            "{alg:?}"
        );
        assert_eq!(back.peek(), lim.peek(), "{alg:?}");
        for _ in 0..4 {
            assert_eq!(back.check(), lim.check(), "{alg:?}");
            clock.advance(Duration::from_secs(7));
        }
        // Saved, then restored after the window (and the bucket's refill) has
        // passed: expired, a full quota.
        let _ = lim.check_n(2).unwrap();
        lim.snapshot_to(&path).unwrap();
        clock.advance(Duration::from_secs(125));
        let info = back.restore_from(&path).unwrap();
        assert_eq!((info.restored, info.expired), (0, 1), "{alg:?}");
        assert_eq!(back.peek().remaining(), 5, "{alg:?}");
        // Nothing live: an empty file, which restores to a full quota.
        lim.reset();
        let _ = back.check_n(3).unwrap();
        let saved = lim.snapshot_to(&path).unwrap();
        assert_eq!((saved.entries, saved.bytes), (0, 124), "{alg:?}");
        back.restore_from(&path).unwrap();
        assert_eq!(back.peek().remaining(), 5, "{alg:?}");
        // Keyed limiters refuse it.
        let k = keyed(q, alg, 10, &clock, None);
        assert_eq!(
            refusal(k.restore_from(&path)),
            Refusal::KindMismatch {
                file: SnapshotKind::Direct
            }
        );
    }
}

#[test]
fn saving_while_other_threads_check_saves_states_that_existed() {
    let dir = TempDir::new("concurrent");
    let clock = ManualClock::new();
    clock.set(T0);
    // The clock stands still: after j admissions a key's TAT is T0 + j·T, so
    // every saved state must be one of those (1 <= j <= burst).
    let q = Quota::per_hour(50).unwrap();
    let t = q.emission_interval().as_nanos() as u64;
    let lim = Arc::new(keyed(q, Algorithm::TokenBucket, 4_000, &clock, None));
    let threads = 3;
    let start = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads as u64)
        .map(|id| {
            let (lim, start) = (lim.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                for round in 0..40u64 {
                    for k in 0..500u64 {
                        let _ = lim.check(&(id * 1_000 + k));
                        if round % 7 == 3 && k % 5 == 0 {
                            lim.reset(&(id * 1_000 + k));
                        }
                    }
                }
            })
        })
        .collect();
    start.wait();
    let mut saves = 0;
    for i in 0..20 {
        let path = dir.file(&format!("s{i}.snap"));
        lim.snapshot_to(&path).unwrap();
        let file = SnapshotFile::read(&path).unwrap();
        for e in file.entries() {
            let j = (e.state - T0.as_nanos() as u64) / t;
            assert_eq!(
                e.state,
                T0.as_nanos() as u64 + j * t,
                "a state no admission made"
            );
            assert!((1..=50).contains(&j));
        }
        let back = keyed(q, Algorithm::TokenBucket, 4_000, &clock, None);
        let info = back.restore_from(&path).unwrap();
        assert_eq!(info.restored, file.header().entry_count);
        assert_eq!(back.len() as u64, info.restored);
        saves += 1;
    }
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(saves, 20);
}

#[test]
fn a_log_restored_over_later_times_stays_sorted_and_saves_again() {
    // Restoring an older log over one that held later times must leave the ring
    // as the file says: a stale later time left in a slot the ring moves into
    // would count as a live admission, and the next save would write a file that
    // no restore accepts.
    let dir = TempDir::new("log-over-later");
    let (f, g) = (dir.file("f.snap"), dir.file("g.snap"));
    let clock = ManualClock::new();
    let q = Quota::new(4, Duration::from_secs(1)).unwrap();
    let build = || {
        DirectLimiter::builder(q)
            .algorithm(Algorithm::SlidingWindowLog)
            .clock(clock.clone())
            .build()
            .unwrap()
    };
    let lim = build();
    clock.set(Duration::from_secs(1));
    assert!(lim.check().is_allowed());
    lim.snapshot_to(&f).unwrap();
    clock.set(Duration::from_secs(10));
    for _ in 0..4 {
        assert!(lim.check().is_allowed());
    }
    clock.set(Duration::from_millis(1_500));
    assert_eq!(lim.restore_from(&f).unwrap().restored, 1);
    for ms in [1_600, 1_700] {
        clock.set(Duration::from_millis(ms));
        assert!(lim.check().is_allowed(), "at {ms} ms");
    }
    clock.set(Duration::from_millis(1_800));
    assert_eq!(lim.snapshot_to(&g).unwrap().entries, 1);
    let times: Vec<u64> = SnapshotFile::read(&g)
        .unwrap()
        .entries()
        .next()
        .unwrap()
        .log
        .collect();
    assert_eq!(times, vec![1_000_000_000, 1_600_000_000, 1_700_000_000]);
    let back = build();
    assert_eq!(back.restore_from(&g).unwrap().restored, 1);
    // Three of four in (0.8 s, 1.8 s]: one more, then none, on both.
    for l in [&lim, &back] {
        assert!(l.check().is_allowed());
        assert!(!l.check().is_allowed());
    }
}

#[test]
fn nothing_is_saved_or_restored_past_the_end_of_the_timeline() {
    // Past 2^63 ns expiry times saturate, and a restore could not tell a live
    // state from an expired one: such a save is refused, and so is such a file.
    let dir = TempDir::new("timeline-end");
    let path = dir.file("limits.snap");
    let clock = ManualClock::new();
    let q = Quota::per_second(6).unwrap();
    let lim = keyed(q, Algorithm::SlidingWindowLog, 100, &clock, None);
    clock.set_nanos(1 << 63);
    assert!(lim.check("k").is_allowed());
    lim.snapshot_to(&path).unwrap();
    let mut bytes = fs::read(&path).unwrap();
    clock.set_nanos((1 << 63) + 1);
    let want =
        Refusal::BadHeader("saved at a clock reading past the end of the timeline (2^63 ns)");
    assert_eq!(refusal(lim.snapshot_to(dir.file("later.snap"))), want);
    assert!(!dir.file("later.snap").exists());
    // The same file, saved one nanosecond later: refused on reading.
    bytes[104..112].copy_from_slice(&((1u64 << 63) + 1).to_le_bytes());
    let bytes = resealed(bytes);
    assert_eq!(SnapshotFile::from_bytes(bytes.clone()).unwrap_err(), want);
    let direct = DirectLimiter::builder(q)
        .clock(clock.clone())
        .build()
        .unwrap();
    assert_eq!(refusal(direct.snapshot_to(dir.file("direct.snap"))), want);
}
