//! Snapshot tests that need the crate's insides: the injected failure before the
//! rename, the fingerprint against the table's own hashing, and keys that move mid-save.

use super::format::{self, fingerprint};
use super::io::FAIL_BEFORE_RENAME;
use super::save;
use super::*;
use crate::table::slot::tag_of;
use crate::table::Table;
use crate::ManualClock;
use std::fs;

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
    lim.check("a");
    let first = lim.snapshot_to(&path).unwrap();
    assert_eq!(first.entries, 1);
    let old = fs::read(&path).unwrap();
    for k in 0..50u32 {
        lim.check(&k);
    }
    FAIL_BEFORE_RENAME.with(|f| f.set(true));
    let err = lim.snapshot_to(&path).unwrap_err();
    assert!(
        matches!(&err, SnapshotError::Io { op: "rename", .. }),
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
        crate::builder::random_seeds(),
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
    let slot = |tag: u64, state: u64| Slot(0).claimed_by(tag).confirmed().with_state(state);
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
    let saved: Vec<_> = format::decode(&bytes).unwrap().entries().collect();
    let e = |slot, tag, state| SnapshotEntry { slot, tag, state };
    assert_eq!(
        saved,
        vec![
            e(40, 0x77, 1_500),
            e(900, 0x55, 2_500),
            e(901, 0x66, 2_000),
            e(1_000, 0x88, 2_000),
            e(1_001, 0x88, 2_100)
        ]
    );
    // Without moves, nothing is dropped.
    let (_, info) = lim.snapshot_bytes().unwrap();
    assert_eq!((info.entries, info.duplicates), (5, 0));
}

#[test]
fn keep_latest_keeps_exactly_the_latest_state_of_every_moved_tag() {
    let p = Params::new(Algorithm::TokenBucket, &Quota::per_second(5).unwrap()).unwrap();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut entries: Vec<SnapshotEntry> = (0..20_000u64)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            SnapshotEntry {
                slot: i,
                tag: tag_of(x),
                state: 10 + i,
            }
        })
        .collect();
    // Among the last 5,000, every 97th entry repeats the tag of the entry 10,000
    // before it (never itself a copy) with a later state; every 89th with an
    // earlier one. The later state is kept.
    let mut expect_gone = Vec::new();
    let mut moved = Vec::new();
    for i in 15_000..20_000usize {
        if i % 97 == 0 {
            entries[i].tag = entries[i - 10_000].tag;
            expect_gone.push(entries[i - 10_000].slot);
            moved.push(entries[i].tag);
        } else if i % 89 == 0 {
            entries[i].tag = entries[i - 10_000].tag;
            entries[i].state = 1;
            expect_gone.push(entries[i].slot);
            moved.push(entries[i].tag);
        }
    }
    // Moved tags without a copy change nothing.
    moved.extend(entries[..100].iter().map(|e| e.tag));
    moved.sort_unstable();
    moved.dedup();
    let mut out = vec![0u8; format::HEADER_LEN];
    for e in &entries {
        format::write_entry(&mut out, *e);
    }
    let dropped = save::keep_latest(&mut out, &moved, &p);
    let kept: std::collections::HashSet<u64> = format::entries_of(&[&out[..], &[0; 4]].concat())
        .map(|e| e.slot)
        .collect();
    let gone: Vec<u64> = entries
        .iter()
        .map(|e| e.slot)
        .filter(|s| !kept.contains(s))
        .collect();
    expect_gone.sort_unstable();
    assert_eq!(gone, expect_gone);
    assert_eq!(dropped, gone.len() as u64);
    let order: Vec<u64> = format::entries_of(&[&out[..], &[0; 4]].concat())
        .map(|e| e.slot)
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "order kept");
}
