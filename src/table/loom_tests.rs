//! loom models of the table's protocols (`--cfg loom`: two slots per group).
//!
//! Each model races whole table operations on a table of one or two groups and
//! checks the outcome against the sequential histories, exactly; each also
//! records which history every execution matched and fails unless all were
//! explored (loom 0.7 may skip orders, see tests/loom_direct.rs). The models
//! that run checks on planted keys run twice: with the second home read only
//! after the first missed, and with both read at once (the two ways of
//! `Table::update_hash`); the `increment` model runs the first way. Two of them
//! also run with the key at neither home, which `update_hash` finds through
//! `scan_near` (one of them with the key in either group), and one has
//! `scan_near` meet a pending claim and hand over to the full protocol.

use super::*;
use crate::clock::Nanos;
use crate::table::Transition;
use loom::sync::Arc;
use loom::thread;
use std::collections::BTreeSet;
use std::sync::Mutex;

const SEEDS: [u64; 4] = [7, 8, 9, 10];
const NOW: Nanos = 10;

/// A state that is its own expiry time, refreshed to `max(state, now) + 100` by
/// every admission (GCRA-like).
fn expires(s: u64) -> Nanos {
    s
}

fn refresh(s: u64) -> Option<u64> {
    Some(s.max(NOW) + 100)
}

/// Admits once per key: state 0 (absent) -> 1, then denies. Never expires.
fn once(s: u64) -> Option<u64> {
    (s == 0).then_some(1)
}

fn never(_: u64) -> Nanos {
    Nanos::MAX
}

fn owners(t: &Table, p: &Probe) -> Vec<(usize, Slot)> {
    t.candidates(p)
        .map(|i| (i, t.load(i)))
        .filter(|(_, s)| s.tag() == p.tag)
        .collect()
}

fn no_pending(t: &Table) -> bool {
    (0..t.slot_count()).all(|i| !t.load(i).is_pending())
}

/// A table of `groups` groups whose checks read both homes at once, or the
/// second only after the first (the two ways `update_hash` has).
fn table(groups: usize, read_both_homes: bool) -> Table {
    let mut t = Table::with_groups(groups, SEEDS).unwrap();
    t.read_both_homes = read_both_homes;
    t
}

/// The slot `key` looks at first: where the inline path of `update_hash` finds it.
fn home_of(t: &Table, key: u64) -> usize {
    seat_of(t, key, Seat::Home)
}

/// Where a planted key sits: at its first home (found by `update_hash`'s first
/// read), or at neither home, in its first group or in its second (found by
/// `scan_near`'s first read or its second).
#[derive(Clone, Copy, Debug)]
enum Seat {
    Home,
    Away,
    AwayInSecondGroup,
}

fn seat_of(t: &Table, key: u64, seat: Seat) -> usize {
    let p = t.probe(&key);
    let homes = [0, 1].map(|g| p.groups[g] * GROUP_SLOTS + p.home(g));
    let away_in = |g: usize| {
        t.candidates(&p)
            .find(|&i| i / GROUP_SLOTS == p.groups[g] && !homes.contains(&i))
            .expect("in two groups a key has a slot at neither home in each")
    };
    match seat {
        Seat::Home => homes[0],
        Seat::Away => away_in(0),
        Seat::AwayInSecondGroup => away_in(1),
    }
}

/// The tables the planted-key models run on: one group with the key at its
/// home, and two groups (each key's candidates are then all four slots) with the
/// key at neither home.
const SEATS: [(usize, Seat); 2] = [(1, Seat::Home), (2, Seat::Away)];

/// Puts `key` with `state` into slot `idx` directly (setup only).
fn plant(t: &Table, key: u64, idx: usize, state: u64) -> Probe {
    let p = t.probe(&key);
    let s = t.load(idx).claimed_by(p.tag).confirmed().with_state(state);
    t.cell(idx).store(s.0, Ordering::SeqCst);
    p
}

fn explored(seen: &Mutex<BTreeSet<&'static str>>, want: &[&'static str]) {
    let seen = seen.lock().unwrap();
    for w in want {
        assert!(seen.contains(w), "history {w} never explored; saw {seen:?}");
    }
}

/// Two threads check the new key `k` (admitted once, never expiring); `before`
/// runs on this thread meanwhile. Asserts that `k` was admitted exactly once
/// and ends in exactly one slot, with no claim left pending; returns that slot.
fn two_checks_admit_once(t: &Arc<Table>, k: Probe, before: impl FnOnce()) -> usize {
    let checkers: Vec<_> = (0..2)
        .map(|_| {
            let t = t.clone();
            thread::spawn(
                move || match t.update_hash(k.hash, NOW, FullPolicy::Deny, never, once) {
                    Transition::Ran { seen, .. } => seen == 0,
                    Transition::Full { .. } => panic!("room was there"),
                },
            )
        })
        .collect();
    before();
    let admitted = checkers
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|&a| a)
        .count();
    assert_eq!(admitted, 1, "admitted exactly once");
    let own = owners(t, &k);
    assert_eq!(own.len(), 1, "one slot: {own:?}");
    assert_eq!(own[0].1.state(), 1);
    assert!(no_pending(t));
    own[0].0
}

/// Two threads check the same new key while a third frees the slot the first
/// would prefer: claims can land in different slots, and the key must still end
/// up in exactly one, admitted exactly once.
#[test]
fn two_threads_insert_the_same_new_key() {
    for read_both_homes in [false, true] {
        let seen = std::sync::Arc::new(Mutex::new(BTreeSet::new()));
        let s2 = seen.clone();
        loom::model(move || {
            let t = Arc::new(table(2, read_both_homes));
            let k = t.probe(&1u64);
            // Another key in k's first candidate slot (its home in its first group).
            let first = t.candidates(&k).next().unwrap();
            let other = plant(&t, 2, first, 5);
            let remover = {
                let t = t.clone();
                thread::spawn(move || assert!(t.remove(&other)))
            };
            let idx = two_checks_admit_once(&t, k, || remover.join().unwrap());
            let slot = if idx / GROUP_SLOTS == k.groups[0] {
                "first group"
            } else {
                "second group"
            };
            s2.lock().unwrap().insert(slot);
        });
        explored(&seen, &["first group", "second group"]);
    }
}

/// A claim of a new key left pending at neither home (its claimant stalled
/// before resolving) while two threads check the key: `scan_near` meets the
/// claim and hands over to the full protocol, which resolves it; the key ends
/// in exactly one slot, admitted exactly once.
#[test]
fn checks_meet_a_pending_claim_away_from_the_homes() {
    for read_both_homes in [false, true] {
        loom::model(move || {
            let t = Arc::new(table(2, read_both_homes));
            let k = t.probe(&1u64);
            let idx = seat_of(&t, 1, Seat::Away);
            t.cell(idx)
                .store(t.load(idx).claimed_by(k.tag).0, Ordering::SeqCst);
            two_checks_admit_once(&t, k, || ());
        });
    }
}

/// Key A's expired slot is reused by key B while A updates it: both are admitted,
/// neither owns two slots, and the live key expiring soonest makes room. Run with
/// A at its home and at neither home (found by `scan_near`).
#[test]
fn update_races_reuse_of_the_expired_slot() {
    for (read_both_homes, (groups, seat)) in [false, true]
        .into_iter()
        .flat_map(|r| SEATS.map(|s| (r, s)))
    {
        let seen = std::sync::Arc::new(Mutex::new(BTreeSet::new()));
        let s2 = seen.clone();
        loom::model(move || {
            let t = Arc::new(table(groups, read_both_homes));
            let a_idx = seat_of(&t, 1, seat);
            let a = plant(&t, 1, a_idx, 5); // expired at NOW
                                            // Live keys in every other slot, the first expiring soonest.
            let live: Vec<Probe> = (0..t.slot_count())
                .filter(|&i| i != a_idx)
                .zip(3u64..)
                .map(|(i, k)| plant(&t, k, i, 50 + 10 * (k - 3)))
                .collect();
            let b = t.probe(&2u64);
            let ta = {
                let t = t.clone();
                thread::spawn(move || {
                    t.update_hash(
                        a.hash,
                        NOW,
                        FullPolicy::EvictSoonestExpiring,
                        expires,
                        refresh,
                    )
                })
            };
            let tb = {
                let t = t.clone();
                thread::spawn(move || {
                    t.update_hash(
                        b.hash,
                        NOW,
                        FullPolicy::EvictSoonestExpiring,
                        expires,
                        refresh,
                    )
                })
            };
            let oa = ta.join().unwrap();
            let ob = tb.join().unwrap();
            for p in [&a, &b] {
                let own = owners(&t, p);
                assert_eq!(own.len(), 1);
                assert_eq!(own[0].1.state(), NOW + 100);
            }
            assert!(
                owners(&t, &live[0]).is_empty(),
                "the soonest-expiring live key made room"
            );
            for p in &live[1..] {
                assert_eq!(owners(&t, p).len(), 1);
            }
            assert!(no_pending(&t));
            let evictions = [oa, ob]
                .iter()
                .map(|o| match o {
                    Transition::Ran { evicted, .. } => *evicted,
                    Transition::Full { .. } => 0,
                })
                .sum::<u32>();
            assert_eq!(evictions, 1);
            let history = if owners(&t, &a)[0].0 == a_idx {
                "a kept its slot"
            } else {
                "b took a's slot"
            };
            s2.lock().unwrap().insert(history);
        });
        explored(&seen, &["a kept its slot", "b took a's slot"]);
    }
}

/// A new key evicts the soonest-expiring key while that key is being updated.
#[test]
fn eviction_races_an_update() {
    for read_both_homes in [false, true] {
        let seen = std::sync::Arc::new(Mutex::new(BTreeSet::new()));
        let s2 = seen.clone();
        loom::model(move || {
            let t = Arc::new(table(1, read_both_homes));
            // v1 at its home, so that its update takes the inline path.
            let v1_idx = home_of(&t, 1);
            let v1 = plant(&t, 1, v1_idx, 50);
            let v2 = plant(&t, 2, 1 - v1_idx, 80);
            let n = t.probe(&3u64);
            let t1 = {
                let t = t.clone();
                thread::spawn(move || {
                    t.update_hash(
                        v1.hash,
                        NOW,
                        FullPolicy::EvictSoonestExpiring,
                        expires,
                        refresh,
                    )
                })
            };
            let t2 = {
                let t = t.clone();
                thread::spawn(move || {
                    t.update_hash(
                        n.hash,
                        NOW,
                        FullPolicy::EvictSoonestExpiring,
                        expires,
                        refresh,
                    )
                })
            };
            let o1 = t1.join().unwrap();
            let o2 = t2.join().unwrap();
            assert!(no_pending(&t));
            let state = |p: &Probe| {
                let own = owners(&t, p);
                assert!(own.len() <= 1);
                own.first().map(|(_, s)| s.state())
            };
            assert_eq!(state(&n), Some(NOW + 100));
            let history = match (state(&v1), state(&v2)) {
                // The update came first: v1 lives on with its history; v2 made room.
                (Some(150), None) => {
                    assert_eq!(
                        (o1, o2),
                        (
                            Transition::Ran {
                                seen: 50,
                                evicted: 0
                            },
                            Transition::Ran {
                                seen: 0,
                                evicted: 1
                            }
                        )
                    );
                    "update first"
                }
                // The eviction came first: v1 starts afresh and evicts v2 in turn.
                (Some(110), None) => {
                    assert_eq!(
                        (o1, o2),
                        (
                            Transition::Ran {
                                seen: 0,
                                evicted: 1
                            },
                            Transition::Ran {
                                seen: 0,
                                evicted: 1
                            }
                        )
                    );
                    "eviction first"
                }
                other => panic!("not a linearizable outcome: {other:?}"),
            };
            s2.lock().unwrap().insert(history);
        });
        explored(&seen, &["update first", "eviction first"]);
    }
}

/// `check` racing `reset` of the same key (its quota spent), the key at its home
/// and at neither home, in either group.
#[test]
fn check_races_reset() {
    let seats = [SEATS[0], SEATS[1], (2, Seat::AwayInSecondGroup)];
    for (read_both_homes, (groups, seat)) in [false, true]
        .into_iter()
        .flat_map(|r| seats.map(|s| (r, s)))
    {
        let seen = std::sync::Arc::new(Mutex::new(BTreeSet::new()));
        let s2 = seen.clone();
        loom::model(move || {
            let t = Arc::new(table(groups, read_both_homes));
            // Spent, where the check finds it without the full protocol.
            let k = plant(&t, 1, seat_of(&t, 1, seat), 1);
            let resetter = {
                let t = t.clone();
                thread::spawn(move || assert!(t.remove(&k)))
            };
            let checker = {
                let t = t.clone();
                thread::spawn(move || t.update_hash(k.hash, NOW, FullPolicy::Deny, never, once))
            };
            resetter.join().unwrap();
            let out = checker.join().unwrap();
            assert!(no_pending(&t));
            let history = match (out, t.state_of(&k)) {
                (Transition::Ran { seen: 1, .. }, None) => "check first",
                (Transition::Ran { seen: 0, .. }, Some(1)) => "reset first",
                other => panic!("not a linearizable outcome: {other:?}"),
            };
            s2.lock().unwrap().insert(history);
        });
        explored(&seen, &["check first", "reset first"]);
    }
}

/// Two `increment`s of one counter: nothing is lost, and the two callers see the
/// two distinct new values.
#[test]
fn increment_races_increment() {
    use crate::clock::ManualClock;
    use crate::store::Backend;
    use crate::store::MemoryStore;
    loom::model(|| {
        let store = Arc::new(
            MemoryStore::from_parts(
                1,
                ManualClock::new(),
                FullPolicy::EvictSoonestExpiring,
                SEEDS,
            )
            .unwrap(),
        );
        // The counter exists already in one model half, is created in the other.
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let store = store.clone();
                thread::spawn(move || store.increment("n", 1, None).unwrap())
            })
            .collect();
        let mut seen: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        seen.sort_unstable();
        assert_eq!(seen, [1, 2]);
        assert_eq!(store.get("n").unwrap(), Some(2));
    });
}

/// The keyed sliding-window log: key K takes over the dead slot of key V (and so
/// V's log) while V checks through it. Whatever the order, each key ends with a log
/// holding exactly its own entry: V's late admission never lands in K's log.
#[test]
fn log_adoption_races_the_previous_owner() {
    use crate::{Algorithm, Limiter, ManualClock, Quota};
    use core::time::Duration;
    let seen = std::sync::Arc::new(Mutex::new(BTreeSet::new()));
    let s2 = seen.clone();
    loom::model(move || {
        let clock = ManualClock::new();
        let lim = Arc::new(
            Limiter::builder(Quota::new(2, Duration::from_nanos(1_000)).unwrap())
                .algorithm(Algorithm::SlidingWindowLog)
                .capacity(1)
                .hash_seeds(SEEDS)
                .clock(clock.clone())
                .build()
                .unwrap(),
        );
        let table = lim.store().table();
        assert!(lim.check("v").is_allowed()); // V takes its home slot in the one group
        let v_slot = table.locate(&table.probe("v")).unwrap().0;
        clock.set_nanos(4_500);
        assert!(lim.check("c").is_allowed()); // C fills the other, live until 5,500
        clock.set_nanos(5_000); // V's entry, and so its slot, has expired
        let tv = {
            let lim = lim.clone();
            thread::spawn(move || lim.check("v").is_allowed())
        };
        let tk = {
            let lim = lim.clone();
            thread::spawn(move || lim.check("k").is_allowed())
        };
        assert!(tv.join().unwrap());
        assert!(tk.join().unwrap());
        assert_eq!(
            lim.peek("v").remaining(),
            0,
            "v: its one entry, plus the peeked one"
        );
        assert_eq!(
            lim.peek("k").remaining(),
            0,
            "k: its one entry, plus the peeked one"
        );
        // Whoever came second found no room and evicted C, which expires soonest.
        assert_eq!(lim.stats().evicted, 1);
        let v = table.probe("v");
        let history = if table.load(v_slot).tag() == v.tag {
            "v kept its slot"
        } else {
            "k took v's slot"
        };
        s2.lock().unwrap().insert(history);
    });
    explored(&seen, &["v kept its slot", "k took v's slot"]);
}

/// A snapshot's read of a log (`LogRef::live_times`) racing an admission that
/// laps the ring: the read is exactly the log before or after the admission,
/// never a mix of the two laps (the head is re-read after the slots).
#[test]
fn log_read_races_an_admission_that_laps_the_ring() {
    use crate::algorithm::{Algorithm, Params};
    use crate::cell::LogCell;
    use crate::Quota;
    use core::time::Duration;
    let seen = std::sync::Arc::new(Mutex::new(BTreeSet::new()));
    let s2 = seen.clone();
    loom::model(move || {
        let p = Params::new(
            Algorithm::SlidingWindowLog,
            &Quota::new(2, Duration::from_nanos(1_000)).unwrap(),
        )
        .unwrap();
        let log = Arc::new(LogCell::new(2));
        assert!(log.check(&p, 10, 1).allowed);
        assert!(log.check(&p, 15, 1).allowed); // the ring is full
        let admit = {
            let log = log.clone();
            // Both entries have left the window: admitted, over the slot of 10.
            thread::spawn(move || log.check(&p, 2_000, 1).allowed)
        };
        let mut times = Vec::new();
        assert!(log.log().live_times(0, 0, &mut times));
        assert!(admit.join().unwrap());
        let history = match times.as_slice() {
            [10, 15] => "read before",
            [15, 2_000] => "read after",
            other => panic!("a read of no state the log had: {other:?}"),
        };
        s2.lock().unwrap().insert(history);
    });
    explored(&seen, &["read before", "read after"]);
}

/// `purge_expired` races a new key's claim of the one dead slot (key V's, expired;
/// the other slot holds a live key): the new key ends in that slot, admitted once,
/// and the purge counts V exactly when it emptied the slot before the claim took it.
#[test]
fn purge_races_a_claim_of_the_expired_slot() {
    for read_both_homes in [false, true] {
        let seen = std::sync::Arc::new(Mutex::new(BTreeSet::new()));
        let s2 = seen.clone();
        loom::model(move || {
            let t = Arc::new(table(1, read_both_homes));
            let dead = home_of(&t, 1);
            let v = plant(&t, 2, dead, 5); // expired at NOW
            let live = plant(&t, 3, 1 - dead, 500);
            let k = t.probe(&1u64);
            let purger = {
                let t = t.clone();
                thread::spawn(move || t.purge_expired(NOW, expires))
            };
            let checker = {
                let t = t.clone();
                thread::spawn(move || {
                    t.update_hash(k.hash, NOW, FullPolicy::Deny, expires, refresh)
                })
            };
            let purged = purger.join().unwrap();
            let out = checker.join().unwrap();
            assert_eq!(
                out,
                Transition::Ran {
                    seen: 0,
                    evicted: 0
                }
            );
            assert_eq!(owners(&t, &k), [(dead, t.load(dead))]);
            assert_eq!(t.load(dead).state(), NOW + 100);
            assert!(owners(&t, &v).is_empty());
            assert_eq!(owners(&t, &live).len(), 1);
            assert!(no_pending(&t));
            let history = match purged {
                1 => "purge first",
                0 => "claim first",
                n => panic!("purged {n}"),
            };
            s2.lock().unwrap().insert(history);
        });
        explored(&seen, &["purge first", "claim first"]);
    }
}

/// `clear` races a check of a key whose quota is spent, at its home in a table of
/// one group: the check lands before the clear (denied; the key is gone) or after
/// it (admitted once; the key is back with its one admission).
#[test]
fn clear_races_a_check() {
    for read_both_homes in [false, true] {
        let seen = std::sync::Arc::new(Mutex::new(BTreeSet::new()));
        let s2 = seen.clone();
        loom::model(move || {
            let t = Arc::new(table(1, read_both_homes));
            let k = plant(&t, 1, home_of(&t, 1), 1);
            let clearer = {
                let t = t.clone();
                thread::spawn(move || t.clear())
            };
            let checker = {
                let t = t.clone();
                thread::spawn(move || t.update_hash(k.hash, NOW, FullPolicy::Deny, never, once))
            };
            clearer.join().unwrap();
            let out = checker.join().unwrap();
            assert!(no_pending(&t));
            assert!(owners(&t, &k).len() <= 1);
            let history = match (out, t.state_of(&k)) {
                (Transition::Ran { seen: 1, .. }, None) => "check first",
                (Transition::Ran { seen: 0, .. }, Some(1)) => "clear first",
                other => panic!("not a linearizable outcome: {other:?}"),
            };
            s2.lock().unwrap().insert(history);
        });
        explored(&seen, &["check first", "clear first"]);
    }
}

/// A restore's table pass (`replace_all`) installs key K, its quota spent, at its
/// home while a check of K (absent before) runs: the check lands before the
/// restore (admitted, then overwritten by the restored state) or after it (denied),
/// and K ends in exactly one slot either way.
#[test]
fn restore_races_a_check_of_a_key_it_installs() {
    for read_both_homes in [false, true] {
        let seen = std::sync::Arc::new(Mutex::new(BTreeSet::new()));
        let s2 = seen.clone();
        loom::model(move || {
            let t = Arc::new(table(1, read_both_homes));
            let k = t.probe(&1u64);
            let home = home_of(&t, 1);
            let restorer = {
                let t = t.clone();
                thread::spawn(move || {
                    t.replace_all(core::iter::once((home, k.tag, 1, ())), |_, _| {})
                })
            };
            let checker = {
                let t = t.clone();
                thread::spawn(move || t.update_hash(k.hash, NOW, FullPolicy::Deny, never, once))
            };
            restorer.join().unwrap();
            let out = checker.join().unwrap();
            assert!(no_pending(&t));
            let own = owners(&t, &k);
            assert_eq!(own.len(), 1, "one slot: {own:?}");
            assert_eq!((own[0].0, own[0].1.state()), (home, 1));
            let history = match out {
                Transition::Ran { seen: 0, .. } => "check first",
                Transition::Ran { seen: 1, .. } => "restore first",
                other => panic!("not a linearizable outcome: {other:?}"),
            };
            s2.lock().unwrap().insert(history);
        });
        explored(&seen, &["check first", "restore first"]);
    }
}
