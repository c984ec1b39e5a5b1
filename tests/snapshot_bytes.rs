//! Snapshots on disk: the bytes exactly as FORMAT.md documents them, and atomic
//! replacement (a failed save leaves the previous file).

#![cfg(not(loom))]

mod common;

use common::*;

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
        matches!(
            err,
            SnapshotError::Io {
                op: ratecell::snapshot::FileOp::Rename,
                ..
            }
        ),
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
        matches!(
            err,
            SnapshotError::Io {
                op: ratecell::snapshot::FileOp::Create,
                ..
            }
        ),
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
