//! loom models of `KeyedConcurrencyLimiter` on a one-group table (two slots under
//! loom): acquires of one new key racing, a release racing an acquire of its own
//! key, a release racing a new key's claim of the room it frees, and a freed key
//! and a new key racing for its room. Each model
//! holds every execution to its sequential histories and fails unless all were
//! explored (see tests/loom_direct.rs for why). They run with the table's models
//! (`cargo test --release --lib loom_tests`).

use super::KeyedConcurrencyLimiter;
use crate::table::Table;
use loom::thread;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

const SEEDS: [u64; 4] = [7, 8, 9, 10];

/// `max` permits per key, room for two keys (one group of two slots).
fn limiter(max: u32) -> Arc<KeyedConcurrencyLimiter> {
    let table = Table::with_groups(1, SEEDS).unwrap();
    Arc::new(KeyedConcurrencyLimiter::with_table(table, max, 2).unwrap())
}

fn explore<T, F>(name: &str, all: impl IntoIterator<Item = T>, model: F)
where
    T: Ord + Clone + std::fmt::Debug + Send + 'static,
    F: Fn() -> T + Sync + Send + 'static,
{
    let seen = Arc::new(Mutex::new((BTreeSet::new(), 0usize)));
    let record = seen.clone();
    loom::model(move || {
        let outcome = model();
        let mut s = record.lock().unwrap();
        s.0.insert(outcome);
        s.1 += 1;
    });
    let s = seen.lock().unwrap();
    println!(
        "loom model {name}: {} executions, {} outcomes",
        s.1,
        s.0.len()
    );
    let all: BTreeSet<T> = all.into_iter().collect();
    assert_eq!(s.0, all, "{name}: not every sequential history explored");
}

/// Two threads take the one permit of a new key: exactly one gets it (the key
/// never ends up in two slots), and giving it back leaves the key at 0.
#[test]
fn acquires_of_one_new_key_race() {
    explore(
        "acquires_of_one_new_key_race",
        [(false, true), (true, false)],
        || {
            let c = limiter(1);
            let other = {
                let c = c.clone();
                thread::spawn(move || c.try_acquire_owned(&1u64))
            };
            let mine = c.try_acquire_owned(&1u64);
            let theirs = other.join().unwrap();
            let outcome = (mine.is_some(), theirs.is_some());
            assert_eq!(c.in_flight(&1u64), 1);
            drop((mine, theirs));
            assert_eq!(c.in_flight(&1u64), 0);
            outcome
        },
    );
}

/// A key at its maximum gives a permit back while another thread asks for one:
/// the ask succeeds exactly when it comes after the release, and the count is
/// exact either way.
#[test]
fn release_racing_an_acquire_of_its_key() {
    explore(
        "release_racing_an_acquire_of_its_key",
        [false, true],
        || {
            let c = limiter(1);
            let held = c.try_acquire_owned(&1u64).unwrap();
            let releaser = thread::spawn(move || drop(held));
            let got = c.try_acquire_owned(&1u64);
            releaser.join().unwrap();
            assert_eq!(c.in_flight(&1u64), u32::from(got.is_some()));
            got.is_some()
        },
    );
}

/// A full table (two keys with a permit each): one key's last permit comes back
/// while a new key asks for room. The new key gets room exactly when the release
/// came first; the other key's permit is never lost, and its release lands on its
/// own count.
#[test]
fn release_racing_a_new_key_for_its_room() {
    explore(
        "release_racing_a_new_key_for_its_room",
        [false, true],
        || {
            let c = limiter(1);
            let a = c.try_acquire_owned(&1u64).unwrap();
            let b = c.try_acquire_owned(&2u64).unwrap();
            let releaser = thread::spawn(move || drop(a));
            let got = c.try_acquire_owned(&3u64);
            releaser.join().unwrap();
            assert_eq!(c.in_flight(&1u64), 0);
            assert_eq!(c.in_flight(&2u64), 1);
            assert_eq!(c.in_flight(&3u64), u32::from(got.is_some()));
            drop(b);
            assert_eq!(c.in_flight(&2u64), 0);
            let outcome = got.is_some();
            drop(got);
            // Room again for a key that was refused.
            assert!(c.try_acquire(&3u64).is_some());
            outcome
        },
    );
}

/// A full table where one key has given its last permit back (its room is free
/// but still names it): that key asks again while a new key asks for room. The
/// one free room goes to exactly one of them, and the third key's permit stays.
#[test]
fn a_freed_key_and_a_new_key_race_for_its_room() {
    explore(
        "a_freed_key_and_a_new_key_race_for_its_room",
        [(false, true), (true, false)],
        || {
            let c = limiter(1);
            drop(c.try_acquire(&1u64).unwrap());
            let b = c.try_acquire_owned(&2u64).unwrap();
            let other = {
                let c = c.clone();
                thread::spawn(move || c.try_acquire_owned(&3u64))
            };
            let mine = c.try_acquire_owned(&1u64);
            let theirs = other.join().unwrap();
            assert_eq!(c.in_flight(&1u64), u32::from(mine.is_some()));
            assert_eq!(c.in_flight(&3u64), u32::from(theirs.is_some()));
            assert_eq!(c.in_flight(&2u64), 1);
            drop(b);
            (mine.is_some(), theirs.is_some())
        },
    );
}
