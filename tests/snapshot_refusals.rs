//! Snapshots refuse what they cannot trust: every kind of damaged, foreign or
//! hand-crafted file, each with its exact reason, and the limiter left untouched.

#![cfg(not(loom))]

mod common;

use common::*;

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

    // Another quota is no refusal: the states are reinterpreted (see
    // tests/set_quota.rs); only another algorithm, kind or shape is.
    let other_quota = keyed(
        Quota::per_second(6).unwrap(),
        Algorithm::TokenBucket,
        1,
        &clock,
        None,
    );
    assert_eq!(
        other_quota
            .restore_from(with(good.clone()))
            .unwrap()
            .restored,
        2
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
            Refusal::BadHeader(HeaderProblem::ReservedFlags),
        ),
        (
            edit(16, &0u64.to_le_bytes()),
            Refusal::BadHeader(HeaderProblem::InvalidQuota),
        ),
        (
            edit(24, &6u32.to_le_bytes()),
            Refusal::BadHeader(HeaderProblem::BurstWithoutFlag),
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
            op: ratecell::snapshot::FileOp::Open,
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
