//! Helpers shared by the integration tests: temporary directories, keyed limiters
//! on a manual clock, hand-built snapshot files and a small deterministic RNG.
//! Each test binary uses some of them.

#![allow(dead_code, unused_imports)]

pub use ratecell::snapshot::{EntryProblem, HeaderProblem, Refusal, SnapshotFile, SnapshotKind};
pub use ratecell::{
    Algorithm, Decision, DirectLimiter, Limiter, ManualClock, Quota, SnapshotError,
};
pub use std::fs;
pub use std::path::{Path, PathBuf};
pub use std::sync::{Arc, Barrier};
pub use std::time::Duration;

pub const ALGORITHMS: [Algorithm; 5] = [
    Algorithm::TokenBucket,
    Algorithm::LeakyBucket,
    Algorithm::FixedWindow,
    Algorithm::SlidingWindowLog,
    Algorithm::SlidingWindowCounter,
];

pub const SEEDS: [u64; 4] = [0x1111, 0x2222, 0x3333, 0x4444];

/// A start well into the timeline, like a real clock's.
pub const T0: Duration = Duration::from_secs(1_700_000_000);

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("ratecell-snapshot-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn names(&self) -> Vec<String> {
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

pub fn keyed(
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

pub fn refusal(r: Result<impl std::fmt::Debug, SnapshotError>) -> Refusal {
    match r {
        Err(SnapshotError::Refused { reason, .. }) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// CRC-32C, bit by bit (independent of the crate's table-driven / hardware one).
pub fn crc32c(bytes: &[u8]) -> u32 {
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
pub fn resealed(mut bytes: Vec<u8>) -> Vec<u8> {
    let n = bytes.len() - 4;
    let crc = crc32c(&bytes[..n]);
    bytes[n..].copy_from_slice(&crc.to_le_bytes());
    bytes
}

/// LEB128, written from FORMAT.md (independent of the crate's encoder): seven
/// bits per byte, low bits first, the high bit set on every byte but the last.
pub fn leb(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out
}

/// The length of the varint at the start of `b`.
pub fn leb_len(b: &[u8]) -> usize {
    b.iter().position(|x| x & 0x80 == 0).unwrap() + 1
}

/// `u64::MAX` as a varint: nine 0xFF bytes and a final 0x01.
pub fn leb_max() -> Vec<u8> {
    let mut v = vec![0xFF; 9];
    v.push(0x01);
    v
}

/// A valid tag: bit 55 (the top bit of the seventh byte) set.
pub const TAG: [u8; 7] = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x80];

pub const TAG2: [u8; 7] = [0x99, 0x88, 0x77, 0x66, 0x55, 0x44, 0xC3];

/// A keyed entry's bytes: the slot gap's varint, the tag, then `rest` (a word
/// algorithm's state varint, or a log's count and times).
pub fn keyed_entry(gap: &[u8], tag: [u8; 7], rest: &[u8]) -> Vec<u8> {
    [gap, &tag[..], rest].concat()
}

/// A file with `header` (a good file's first 120 bytes), announcing `count`
/// entries, followed by `body` and a valid checksum.
pub fn crafted(header: &[u8], count: u64, body: &[u8]) -> Vec<u8> {
    let mut b = header[..120].to_vec();
    b[112..120].copy_from_slice(&count.to_le_bytes());
    b.extend_from_slice(body);
    b.extend_from_slice(&[0; 4]);
    resealed(b)
}

pub fn nanos(d: Duration) -> u64 {
    d.as_nanos() as u64
}

pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A mixed workload over 300 keys: costs up to the maximum, time steps of a
/// fraction of the period. Returns every decision.
pub fn drive(
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

/// Peeks of the file's keys and others, and the live count: what "untouched"
/// means for a limiter.
pub fn fingerprint_of(lim: &Limiter<ManualClock>) -> (Vec<Decision>, usize) {
    let keys = ["a", "b", "c", "held-1", "held-2", "absent"];
    (keys.iter().map(|k| lim.peek(k)).collect(), lim.len())
}

/// The shortest and longest file of `n` keyed entries, from FORMAT.md: a word
/// entry takes 1 + 7 + 1 to 10 + 7 + 10 bytes, a log entry (limit `L`) 1 + 7 + 2
/// to 10 + 7 + 3 + 10·L.
pub fn keyed_len_bounds(alg: Algorithm, limit: u64, n: u64) -> (u64, u64) {
    let (min, max) = if alg == Algorithm::SlidingWindowLog {
        (10, 20 + 10 * limit)
    } else {
        (9, 27)
    };
    (124 + min * n, 124 + max * n)
}

/// Thousands of damaged copies of a good two-key file of `alg`: each refused
/// with the reason its damage calls for, the limiter untouched throughout.
pub fn damaged_files_are_refused(alg: Algorithm) {
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

/// `bytes` are refused for `want`, read on their own and restored from a file.
pub fn assert_refused(
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

pub fn with_file(path: &Path, bytes: &[u8]) -> PathBuf {
    fs::write(path, bytes).unwrap();
    path.to_path_buf()
}

pub fn print_hex(b: &[u8]) {
    for (i, row) in b.chunks(16).enumerate() {
        let hex: Vec<String> = row.iter().map(|x| format!("{x:02x}")).collect();
        println!("{:08x}  {}", i * 16, hex.join(" "));
    }
}
