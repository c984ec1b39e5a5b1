//! Snapshot tests that need the crate's insides: the injected failure before the
//! rename, the fingerprint against the table's own hashing, and keys that move mid-save.

use super::format::{self, fingerprint};
use super::io::FAIL_BEFORE_RENAME;
use super::save;
use super::*;
use crate::table::slot::{tag_of, Slot};
use crate::table::Table;
use crate::ManualClock;
use std::fs;
use std::path::Path;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ratecell-snapshot-unit-{name}-{}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn limiter(clock: &ManualClock) -> Limiter<ManualClock> {
    Limiter::builder(Quota::per_second(5).unwrap())
        .capacity(1_000)
        .hash_seeds([7, 8, 9, 10])
        .clock(clock.clone())
        .build()
        .unwrap()
}

#[test]
fn a_save_that_fails_before_the_rename_leaves_the_old_file_byte_identical() {
    let dir = temp_dir("rename");
    let path = dir.join("limits.snap");
    let clock = ManualClock::new();
    let lim = limiter(&clock);
    let _ = lim.check("a");
    let first = lim.snapshot_to(&path).unwrap();
    assert_eq!(first.entries, 1);
    let old = fs::read(&path).unwrap();
    for k in 0..50u32 {
        let _ = lim.check(&k);
    }
    FAIL_BEFORE_RENAME.with(|f| f.set(true));
    let err = lim.snapshot_to(&path).unwrap_err();
    assert!(
        matches!(
            &err,
            SnapshotError::Io {
                op: FileOp::Rename,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.path(), path.as_path());
    assert_eq!(fs::read(&path).unwrap(), old);
    // The temporary file is gone: the directory holds the snapshot alone.
    let names: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("limits.snap")]);
    // The next save goes through.
    assert_eq!(lim.snapshot_to(&path).unwrap().entries, 51);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_fingerprint_hashes_exactly_as_the_table_does() {
    for seeds in [
        [1, 2, 3, 4],
        [u64::MAX, 0, 42, 7],
        crate::table::random_seeds(),
    ] {
        let t = Table::with_groups(512, seeds).unwrap();
        let fp = fingerprint(seeds);
        assert_eq!(t.probe("ratecell-fp-0").tag, tag_of(fp[0]));
        assert_eq!(t.probe(&0x0123_4567_89ab_cdef_u64).tag, tag_of(fp[1]));
        let long =
            &b"ratecell-fp-2: a probe key longer than sixty-four bytes, for the long path"[..];
        assert_eq!(t.probe(long).tag, tag_of(fp[2]));
        assert_eq!(t.probe(&(3_u32, "ratecell-fp-3")).tag, tag_of(fp[3]));
        assert_ne!(
            fp,
            fingerprint([seeds[0] ^ 1, seeds[1], seeds[2], seeds[3]])
        );
    }
}

#[test]
fn a_key_that_moves_during_a_save_is_saved_once_with_its_later_state() {
    // A key reset (or evicted) after the scan read its slot and back in a slot the
    // scan reads later shows up twice; a restored table must never hold one key
    // twice.
    let clock = ManualClock::new();
    clock.set_nanos(1_000);
    let lim = limiter(&clock);
    let t = lim.store.table();
    // Tags as the table makes them: the marker bit set.
    let tg = |low: u64| tag_of(low);
    let slot =
        move |tag: u64, state: u64| Slot(0).claimed_by(tg(tag)).confirmed().with_state(state);
    t.install(3, slot(0x55, 2_000).0);
    t.install(40, slot(0x77, 1_500).0);
    t.install(901, slot(0x66, 2_000).0);
    // Two distinct keys that merely share a tag, and stay put: both saved.
    t.install(1_000, slot(0x88, 2_000).0);
    t.install(1_001, slot(0x88, 2_100).0);
    save::SCAN_HOOK.with(|h| {
        *h.borrow_mut() = Some(Box::new(move |t: &Table, idx: usize| {
            if idx == 3 {
                // 0x55 moves from slot 3 to slot 900 with a later state.
                t.install(3, Slot(t.slot_word(3)).emptied().0);
                t.install(900, slot(0x55, 2_500).0);
            }
            if idx == 901 {
                // 0x66 moves back, from 901 to 1200, with an earlier state.
                t.install(901, Slot(t.slot_word(901)).emptied().0);
                t.install(1_200, slot(0x66, 1_800).0);
            }
        }));
    });
    let (bytes, info) = lim.snapshot_bytes().unwrap();
    save::SCAN_HOOK.with(|h| h.borrow_mut().take());
    assert_eq!((info.entries, info.duplicates), (5, 2));
    let saved: Vec<_> = format::decode(&bytes)
        .unwrap()
        .entries()
        .map(|e| (e.slot, e.tag, e.state))
        .collect();
    assert_eq!(
        saved,
        vec![
            (40, tg(0x77), 1_500),
            (900, tg(0x55), 2_500),
            (901, tg(0x66), 2_000),
            (1_000, tg(0x88), 2_000),
            (1_001, tg(0x88), 2_100)
        ]
    );
    // Without moves, nothing is dropped.
    let (_, info) = lim.snapshot_bytes().unwrap();
    assert_eq!((info.entries, info.duplicates), (5, 0));
}

#[test]
fn copies_to_drop_keeps_exactly_the_latest_state_of_every_moved_tag() {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    // (tag, rank) in file order; rank = the state here.
    let mut entries: Vec<(u64, u64)> = (0..20_000u64)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (tag_of(x), 10 + i)
        })
        .collect();
    // Among the last 5,000, every 97th entry repeats the tag of the entry 10,000
    // before it (never itself a copy) with a later state; every 89th with an
    // earlier one. The later state is kept.
    let mut expect_gone = Vec::new();
    let mut moved = Vec::new();
    for i in 15_000..20_000usize {
        if i % 97 == 0 {
            entries[i].0 = entries[i - 10_000].0;
            expect_gone.push(i - 10_000);
            moved.push(entries[i].0);
        } else if i % 89 == 0 {
            entries[i].0 = entries[i - 10_000].0;
            entries[i].1 = 1;
            expect_gone.push(i);
            moved.push(entries[i].0);
        }
    }
    // Moved tags without a copy change nothing.
    moved.extend(entries[..100].iter().map(|e| e.0));
    moved.sort_unstable();
    moved.dedup();
    let drop = save::copies_to_drop(entries.iter().copied(), &moved);
    expect_gone.sort_unstable();
    assert_eq!(drop, expect_gone);
}

#[test]
fn a_large_table_saved_by_two_threads_holds_exactly_its_live_keys() {
    // 100,000 keys of capacity: past `PARALLEL_SLOTS`, so (with two cores) the
    // second half of the table is scanned by a second thread and stitched on.
    let clock = ManualClock::new();
    clock.set_nanos(5_000_000_000);
    let build = || {
        Limiter::builder(Quota::per_second(5).unwrap())
            .capacity(100_000)
            .hash_seeds([3, 1, 4, 1])
            .clock(clock.clone())
            .build()
            .unwrap()
    };
    for keys in [0u64, 1, 7, 60_000] {
        let lim = build();
        for k in 0..keys {
            for _ in 0..=(k % 3) {
                let _ = lim.check(&k);
            }
        }
        let table = lim.store.table();
        let expected: Vec<(u64, u64, u64)> = table
            .entries(0..table.slot_count())
            .map(|(idx, s)| (idx as u64, s.tag(), s.state()))
            .collect();
        let (bytes, info) = lim.snapshot_bytes().unwrap();
        assert_eq!(info.entries, keys);
        let saved: Vec<(u64, u64, u64)> = format::decode(&bytes)
            .unwrap()
            .entries()
            .map(|e| (e.slot, e.tag, e.state))
            .collect();
        assert_eq!(saved, expected, "{keys} keys");
        let back = build();
        assert_eq!(back.restore_bytes(&bytes).unwrap().restored, keys);
        for k in 0..keys.min(2_000) {
            assert_eq!(back.peek(&k), lim.peek(&k), "key {k}");
        }
    }
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
        super::__fuzz::snapshot_decode(s);
    }
    let accepted: Vec<SnapshotFile> = seeds
        .iter()
        .filter_map(|s| SnapshotFile::from_bytes(s.to_vec()).ok())
        .collect();
    assert!(
        accepted.len() >= 12,
        "only {} seeds are valid files",
        accepted.len()
    );
    // Valid seeds of every algorithm, keyed and direct, with entries, so the
    // fuzzer starts from every kind of entry; and logs of several times.
    for alg in Algorithm::ALL {
        for kind in [SnapshotKind::Keyed, SnapshotKind::Direct] {
            assert!(
                accepted.iter().any(|f| {
                    let h = f.header();
                    (h.algorithm, h.kind) == (alg, kind) && h.entry_count > 0
                }),
                "no {kind:?} {alg:?} seed with entries"
            );
        }
    }
    assert!(accepted
        .iter()
        .flat_map(|f| f.entries())
        .any(|e| e.log.len() >= 3));
    let (mut ops, mut restores) = (0, 0);
    for s in corpus("ops_model") {
        let (o, r) = super::__fuzz::ops_model(&s);
        ops += o;
        restores += r;
    }
    assert!(
        ops >= 1_000 && restores >= 10,
        "{ops} operations, {restores} restores"
    );
}
