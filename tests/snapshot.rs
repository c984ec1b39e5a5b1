//! Snapshots end to end: exact decisions after a round trip, time offline, every
//! kind of damaged or foreign file refused with the limiter untouched, the bytes
//! on disk, atomic replacement, and the fuzz corpora replayed.

#![cfg(not(loom))]

use ratecell::{
    Algorithm, Decision, DirectLimiter, EntryProblem, Limiter, ManualClock, Quota, Refusal,
    SnapshotError, SnapshotFile, SnapshotKind,
};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::Duration;

const WORD_ALGORITHMS: [Algorithm; 4] = [
    Algorithm::TokenBucket,
    Algorithm::LeakyBucket,
    Algorithm::FixedWindow,
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
    for alg in WORD_ALGORITHMS {
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
    fw.check_n("w", 3).unwrap();
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
    lim.check_n("k", 10).unwrap();
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
    drained.check_n(10).unwrap();
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
    source.check_n("in-file", 2).unwrap();
    source.snapshot_to(&path).unwrap();

    let target = keyed(q, Algorithm::SlidingWindowCounter, 500, &clock, None);
    target.check_n("only-in-limiter", 3).unwrap();
    target.check("in-file");
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
fn thousands_of_damaged_files_are_refused_and_leave_the_limiter_untouched() {
    let dir = TempDir::new("damaged");
    let good_path = dir.file("good.snap");
    let path = dir.file("bad.snap");
    let q = Quota::per_second(4).unwrap();
    let clock = ManualClock::new();
    clock.set(T0);
    let source = keyed(q, Algorithm::TokenBucket, 1, &clock, Some(SEEDS));
    source.check("a");
    source.check_n("b", 2).unwrap();
    source.snapshot_to(&good_path).unwrap();
    let good = fs::read(&good_path).unwrap();
    assert_eq!(good.len(), 120 + 2 * 24 + 4);

    let mut target = keyed(q, Algorithm::TokenBucket, 1, &clock, None);
    target.check_n("held-1", 3).unwrap();
    target.check("held-2");
    target.check("c");
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
    // Every bit of every byte.
    for i in 0..good.len() {
        for bit in 0..8 {
            let mut b = good.clone();
            b[i] ^= 1 << bit;
            let r = attempt(&b, &mut target);
            if i < 8 {
                assert_eq!(r, Refusal::BadMagic);
            }
            if i >= good.len() - 4 {
                assert!(matches!(r, Refusal::BadChecksum { .. }), "{r:?}");
            }
        }
    }
    // Every truncation.
    for len in 0..good.len() {
        let r = attempt(&good[..len], &mut target);
        assert!(matches!(r, Refusal::Truncated { .. }), "len {len}: {r:?}");
    }
    // Appended bytes.
    for extra in 1..=40 {
        let mut b = good.clone();
        b.extend((0..extra).map(|i| i as u8));
        assert!(matches!(
            attempt(&b, &mut target),
            Refusal::TrailingBytes { .. }
        ));
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
    assert!(tried > 3_000, "{tried} files tried");
    assert_eq!(fingerprint_of(&target), before);
    // The undamaged file still restores.
    target.restore_from(&good_path).unwrap();
    assert_eq!(target.peek("b"), source.peek("b"));
    assert_eq!(target.peek("held-1").remaining(), 3);
}

#[test]
fn foreign_and_malformed_files_are_refused_with_the_right_reason() {
    let dir = TempDir::new("foreign");
    let path = dir.file("limits.snap");
    let clock = ManualClock::new();
    clock.set(T0);
    let q5 = Quota::per_second(5).unwrap();
    let source = keyed(q5, Algorithm::TokenBucket, 1, &clock, Some(SEEDS));
    source.check("a");
    source.check("b");
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
            file: (512, 8),
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
    let cases: Vec<(Vec<u8>, Refusal)> = vec![
        (
            edit(8, &2u16.to_le_bytes()),
            Refusal::UnsupportedVersion {
                found: 2,
                supported: 1,
            },
        ),
        (
            edit(8, &0u16.to_le_bytes()),
            Refusal::UnsupportedVersion {
                found: 0,
                supported: 1,
            },
        ),
        (
            edit(10, &[3]),
            Refusal::UnsupportedAlgorithm(Algorithm::SlidingWindowLog),
        ),
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
            Refusal::Truncated {
                len: 172,
                expected: 196,
            },
        ),
        (
            edit(112, &1u64.to_le_bytes()),
            Refusal::TrailingBytes {
                len: 172,
                expected: 148,
            },
        ),
        (
            edit(112, &4097u64.to_le_bytes()),
            Refusal::TooManyEntries {
                entries: 4097,
                slots: 4096,
            },
        ),
        (
            edit(120, &4096u64.to_le_bytes()),
            Refusal::BadEntry {
                index: 0,
                problem: EntryProblem::SlotOutOfRange,
            },
        ),
        (
            edit(128, &0u64.to_le_bytes()),
            Refusal::BadEntry {
                index: 0,
                problem: EntryProblem::NoTag,
            },
        ),
        (
            edit(128, &[1]),
            Refusal::BadEntry {
                index: 0,
                problem: EntryProblem::ReservedBits,
            },
        ),
        (
            edit(136, &0u64.to_le_bytes()),
            Refusal::BadEntry {
                index: 0,
                problem: EntryProblem::ZeroState,
            },
        ),
        (
            edit(144, &good[120..128]),
            Refusal::UnsortedEntries { index: 1 },
        ),
        (
            edit(144, &0u64.to_le_bytes()),
            Refusal::UnsortedEntries { index: 1 },
        ),
    ];
    let before = fingerprint_of(&target);
    for (bytes, want) in cases {
        assert_eq!(refusal(target.restore_from(with(bytes))), want);
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

    // The log has no snapshot format yet, keyed or direct.
    let log = Limiter::builder(q5)
        .algorithm(Algorithm::SlidingWindowLog)
        .capacity(10)
        .clock(clock.clone())
        .build();
    if let Ok(log) = log {
        assert_eq!(
            refusal(log.snapshot_to(dir.file("log.snap"))),
            Refusal::UnsupportedAlgorithm(Algorithm::SlidingWindowLog)
        );
        assert_eq!(
            refusal(log.restore_from(&path)),
            Refusal::UnsupportedAlgorithm(Algorithm::SlidingWindowLog)
        );
    }
    let dlog = DirectLimiter::builder(q5)
        .algorithm(Algorithm::SlidingWindowLog)
        .clock(clock.clone())
        .build()
        .unwrap();
    assert_eq!(
        refusal(dlog.snapshot_to(dir.file("log.snap"))),
        Refusal::UnsupportedAlgorithm(Algorithm::SlidingWindowLog)
    );
    assert_eq!(
        refusal(dlog.restore_from(&path)),
        Refusal::UnsupportedAlgorithm(Algorithm::SlidingWindowLog)
    );
    assert!(!dir.file("log.snap").exists());
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
        big.check(&k);
    }
    big.snapshot_to(&path).unwrap();
    let small = keyed(q, Algorithm::TokenBucket, 1, &clock, None);
    assert!(matches!(
        refusal(small.restore_from(&path)),
        Refusal::CapacityMismatch { .. }
    ));
}

#[test]
fn the_bytes_on_disk_are_exactly_as_documented() {
    let dir = TempDir::new("bytes");
    let path = dir.file("limits.snap");
    let clock = ManualClock::new();
    clock.set_nanos(1_000_000_000);
    // FORMAT.md's worked example: 5 per second, capacity 1 (512 groups of 8).
    let lim = keyed(
        Quota::per_second(5).unwrap(),
        Algorithm::TokenBucket,
        1,
        &clock,
        Some([1, 2, 3, 4]),
    );
    lim.check("alice");
    lim.check_n("bob", 3).unwrap();
    let info = lim.snapshot_to(&path).unwrap();
    let b = fs::read(&path).unwrap();
    assert_eq!(info.bytes, b.len() as u64);
    assert_eq!(b.len(), 120 + 2 * 24 + 4);
    #[rustfmt::skip]
    let header_prefix: [u8; 40] = [
        0x89, b'R', b'C', b'S', b'N', b'A', b'P', b'\n', // magic
        0x01, 0x00,                                     // format version 1
        0x00,                                           // algorithm: token bucket
        0x00,                                           // flags: none
        0x05, 0x00, 0x00, 0x00,                         // limit 5
        0x00, 0xca, 0x9a, 0x3b, 0x00, 0x00, 0x00, 0x00, // period 1e9 ns
        0x05, 0x00, 0x00, 0x00,                         // burst 5
        0x08, 0x00, 0x00, 0x00,                         // 8 slots per group
        0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // 512 groups
    ];
    assert_eq!(b[..40], header_prefix);
    for (i, seed) in [1u64, 2, 3, 4].iter().enumerate() {
        assert_eq!(b[40 + 8 * i..48 + 8 * i], seed.to_le_bytes());
    }
    assert_eq!(b[104..112], 1_000_000_000u64.to_le_bytes(), "saved at");
    assert_eq!(b[112..120], 2u64.to_le_bytes(), "entry count");
    // Entries: slots increasing, meta = tag << 8, states = the TATs (T = 0.2 s).
    let entry = |i: usize| {
        let f = |o: usize| {
            u64::from_le_bytes(b[120 + 24 * i + o..128 + 24 * i + o].try_into().unwrap())
        };
        (f(0), f(8), f(16))
    };
    let (e0, e1) = (entry(0), entry(1));
    assert!(e0.0 < e1.0 && e1.0 < 4096);
    assert!(e0.1 & 0xFF == 0 && e1.1 & 0xFF == 0 && e0.1 != 0 && e1.1 != 0);
    let mut states = [e0.2, e1.2];
    states.sort_unstable();
    assert_eq!(states, [1_200_000_000, 1_600_000_000]);
    assert_eq!(b[168..], crc32c(&b[..168]).to_le_bytes());
    assert_eq!(
        crc32c(b"123456789"),
        0xE306_9283,
        "the test's own CRC-32C is the standard one"
    );
    // The file reads back through the inspection API as written.
    let file = SnapshotFile::read(&path).unwrap();
    let h = file.header();
    assert_eq!(
        (h.version, h.kind, h.algorithm),
        (1, SnapshotKind::Keyed, Algorithm::TokenBucket)
    );
    assert_eq!(
        (h.group_count, h.slots_per_group, h.seeds, h.entry_count),
        (512, 8, [1, 2, 3, 4], 2)
    );
    assert_eq!(file.live_at(1_000_000_000), (2, 0));
    assert_eq!(file.live_at(1_200_000_000), (1, 1));
    assert_eq!(file.to_bytes(), b);
    if std::env::var_os("RATECELL_PRINT_EXAMPLE").is_some() {
        // For FORMAT.md: RATECELL_PRINT_EXAMPLE=1 cargo test --test snapshot bytes_on_disk -- --nocapture
        for (i, row) in b.chunks(16).enumerate() {
            let hex: Vec<String> = row.iter().map(|x| format!("{x:02x}")).collect();
            println!("{:08x}  {}", i * 16, hex.join(" "));
        }
    }
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
    lim.check("a");
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

#[test]
fn a_direct_limiter_round_trips_too() {
    let dir = TempDir::new("direct");
    let path = dir.file("direct.snap");
    for alg in WORD_ALGORITHMS {
        let clock = ManualClock::new();
        clock.set(T0);
        let q = Quota::per_minute(6).unwrap();
        let lim = DirectLimiter::builder(q)
            .algorithm(alg)
            .clock(clock.clone())
            .build()
            .unwrap();
        lim.check_n(4).unwrap();
        assert_eq!(lim.snapshot_to(&path).unwrap().entries, 1);
        assert_eq!(fs::metadata(&path).unwrap().len(), 120 + 24 + 4);
        let back = DirectLimiter::builder(q)
            .algorithm(alg)
            .clock(clock.clone())
            .build()
            .unwrap();
        back.check();
        let info = back.restore_from(&path).unwrap();
        assert_eq!(info.restored, 1, "{alg:?}");
        for _ in 0..4 {
            assert_eq!(back.check(), lim.check(), "{alg:?}");
            clock.advance(Duration::from_secs(7));
        }
        // Nothing live: an empty file, which restores to a full quota.
        lim.reset();
        assert_eq!(lim.snapshot_to(&path).unwrap().entries, 0);
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
                        lim.check(&(id * 1_000 + k));
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

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut seeds: Vec<Vec<u8>> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| fs::read(e.unwrap().path()).unwrap())
        .collect();
    seeds.sort();
    assert!(seeds.len() >= 3, "{target}: only {} seeds", seeds.len());
    seeds
}

/// `cargo test` runs the fuzz targets' checks over their committed seeds.
#[test]
fn fuzz_corpora_replay() {
    let seeds = corpus("snapshot_decode");
    for s in &seeds {
        ratecell::__fuzz::snapshot_decode(s);
    }
    let accepted = seeds
        .iter()
        .filter(|s| SnapshotFile::from_bytes(s.to_vec()).is_ok())
        .count();
    assert!(accepted >= 5, "only {accepted} seeds are valid files");
    let (mut ops, mut restores) = (0, 0);
    for s in corpus("ops_model") {
        let (o, r) = ratecell::__fuzz::ops_model(&s);
        ops += o;
        restores += r;
    }
    assert!(
        ops >= 1_000 && restores >= 10,
        "{ops} operations, {restores} restores"
    );
}
