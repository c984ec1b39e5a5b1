//! Snapshots keep decisions: exact decisions after a round trip (every algorithm,
//! the sliding-window log's times included), time offline, clamping, saves racing
//! checks, and the end of the timeline.

#![cfg(not(loom))]

mod common;

use common::*;

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
    let want = Refusal::BadHeader(HeaderProblem::SavedPastTimeline);
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
