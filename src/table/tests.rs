//! Unit tests of the table: placement, eviction, identity and claim resolution.
use super::*;
use crate::backend::Transition;
use crate::clock::Nanos;

const SEEDS: [u64; 4] = [1, 2, 3, 4];

/// A state word that is simply its expiry time (like GCRA's TAT).
fn expires(s: u64) -> Nanos {
    s
}

fn owners(t: &Table, p: &Probe) -> usize {
    t.candidates(p)
        .filter(|&i| t.load(i).tag() == p.tag)
        .count()
}

#[test]
fn a_full_group_evicts_exactly_the_soonest_expiring_key() {
    let t = Table::with_groups(1, SEEDS).unwrap();
    let probes: Vec<Probe> = (0..9u64).map(|k| t.probe(&k)).collect();
    // Eight keys expiring at 100, 90, ..., 30; key 3 expires soonest but one:
    // give key 5 the soonest (10).
    for (k, p) in probes[..8].iter().enumerate() {
        let until = if k == 5 { 10 } else { 100 - 10 * k as u64 };
        let out = t.update(p, 0, FullPolicy::EvictSoonestExpiring, expires, |_| {
            Some(until)
        });
        assert_eq!(
            out,
            Transition::Ran {
                seen: 0,
                evicted: 0
            }
        );
    }
    let out = t.update(
        &probes[8],
        5,
        FullPolicy::EvictSoonestExpiring,
        expires,
        |_| Some(500),
    );
    assert_eq!(
        out,
        Transition::Ran {
            seen: 0,
            evicted: 1
        }
    );
    for (k, p) in probes.iter().enumerate() {
        assert_eq!(t.state_of(p).is_some(), k != 5, "key {k}");
        assert!(owners(&t, p) <= 1);
    }
    // Under Deny, the ninth key is refused with the time a slot frees up.
    let t2 = Table::with_groups(1, SEEDS).unwrap();
    for p in &probes[..8] {
        t2.update(p, 0, FullPolicy::Deny, expires, |_| Some(50));
    }
    assert_eq!(
        t2.update(&probes[8], 5, FullPolicy::Deny, expires, |_| Some(500)),
        Transition::Full { free_at: 50 }
    );
    // ... and admitted once the states expire, reusing a dead slot.
    assert_eq!(
        t2.update(&probes[8], 50, FullPolicy::Deny, expires, |_| Some(500)),
        Transition::Ran {
            seen: 0,
            evicted: 0
        }
    );
    assert_eq!(t2.purge_expired(50, expires), 7);
}

#[test]
fn a_denied_new_key_takes_no_slot() {
    let t = Table::with_groups(1, SEEDS).unwrap();
    let p = t.probe("k");
    assert_eq!(
        t.update(&p, 0, FullPolicy::Deny, expires, |_| None),
        Transition::Ran {
            seen: 0,
            evicted: 0
        }
    );
    assert_eq!(t.state_of(&p), None);
    assert_eq!(t.live(0, expires), 0);
}

#[test]
fn probes_use_two_distinct_groups_and_64_bits_of_identity() {
    let t = Table::new(1_000_000, SEEDS).unwrap();
    assert!(t.slot_count() >= 1_460_000 && t.slot_count() < 1_460_000 + 8);
    for k in 0..10_000u32 {
        let p = t.probe(&k);
        assert_ne!(p.groups[0], p.groups[1]);
        assert_ne!(p.tag, 0);
    }
    // Same seeds, same probes; other seeds, other probes.
    let again = Table::with_groups(t.groups.len(), SEEDS).unwrap();
    let other = Table::with_groups(t.groups.len(), [9, 9, 9, 9]).unwrap();
    assert_eq!(t.probe("x"), again.probe("x"));
    assert_ne!(t.probe("x"), other.probe("x"));
}

/// Fills a table to its capacity with keys that never expire; checks that
/// `scan_near` finds every key that is not at a home where `locate` does, and
/// returns the share of keys at the first home, at the second, and within a
/// home's cache line (a claim fills a group home line first).
fn fill_and_place(capacity: usize) -> [f64; 3] {
    let t = Table::new(capacity, SEEDS).unwrap();
    let mut at = [0usize; 3];
    for k in 0..capacity as u64 {
        let p = t.probe(&k);
        let out = t.update(&p, 0, FullPolicy::Deny, expires, |_| Some(u64::MAX));
        assert!(matches!(out, Transition::Ran { evicted: 0, .. }), "key {k}");
        let (idx, s) = t.locate(&p).expect("a key just admitted has a slot");
        let homes = [0, 1].map(|g| p.groups[g] * GROUP_SLOTS + p.home(g));
        let line = |home: usize| idx / (GROUP_SLOTS / 2) == home / (GROUP_SLOTS / 2);
        at[0] += usize::from(idx == homes[0]);
        at[1] += usize::from(idx == homes[1]);
        at[2] += usize::from(line(homes[0]) || line(homes[1]));
        if idx != homes[0] && idx != homes[1] {
            let (cell, near) = t.scan_near(p.hash, p.tag).expect("found near");
            assert_eq!((core::ptr::eq(cell, t.cell(idx)), near), (true, s));
        }
    }
    at.map(|n| n as f64 / capacity as f64)
}

#[test]
fn keys_sit_near_their_homes_and_are_found_there() {
    // Measured (these seeds): 1k keys 58.7% / 37.6% / 100%; 100k keys
    // 36.3% / 34.8% / 96.6%. The bounds leave room for other seeds; filling
    // groups from the home onwards (wrapping) instead keeps about 88% of 100k
    // keys within a home's line.
    for (capacity, homes, lines) in [(1_000, 0.9, 0.99), (100_000, 0.65, 0.94)] {
        let [first, second, line] = fill_and_place(capacity);
        assert!(first + second >= homes, "{capacity}: {first} + {second}");
        assert!(line >= lines, "{capacity}: {line}");
    }
}

#[test]
fn a_pending_claim_left_behind_is_resolved_by_the_next_visitor() {
    // A thread that claimed a slot and stalled before resolving must not block
    // anyone: the next thread to look resolves the claim itself.
    let t = Table::with_groups(2, SEEDS).unwrap();
    let p = t.probe("stalled");
    let idx = p.groups[1] * GROUP_SLOTS + 3;
    let claim = t.load(idx).claimed_by(p.tag);
    t.cas(idx, t.load(idx), claim).unwrap();
    let out = t.update(&p, 0, FullPolicy::Deny, expires, |s| Some(s + 7));
    assert_eq!(
        out,
        Transition::Ran {
            seen: 0,
            evicted: 0
        }
    );
    assert_eq!(owners(&t, &p), 1);
    assert_eq!(t.state_of(&p), Some(7));
    // Two stalled claims of one key: the earlier candidate wins, the later dies.
    let q = t.probe("twice");
    let (a, b) = (q.groups[0] * GROUP_SLOTS + 5, q.groups[1] * GROUP_SLOTS + 1);
    for idx in [b, a] {
        let claim = t.load(idx).claimed_by(q.tag);
        t.cas(idx, t.load(idx), claim).unwrap();
    }
    assert_eq!(t.state_of(&q), Some(0));
    assert_eq!(owners(&t, &q), 1);
    assert_eq!(t.load(a).tag(), q.tag);
    assert!(!t.load(a).is_pending());
}
