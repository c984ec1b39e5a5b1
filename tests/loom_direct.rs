#![cfg(loom)]
//! loom models of the single-cell protocols: `WordCell`'s compare-exchange loop and
//! `LogCell`'s claim-then-complete log, driven through `DirectLimiter`.
//!
//! Run (without `--cfg loom` this file is empty):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom \
//!     cargo test --release --test loom_direct
//! ```
//!
//! Every limiter and clock is built inside `loom::model`: under `--cfg loom` their
//! atomics are loom's, which live within one explored execution. The clock stands
//! still while threads race, so each model has a handful of sequential histories
//! and every outcome is asserted against them exactly.
//!
//! Coverage is asserted too, not assumed. loom 0.7's DPOR keeps only the *last*
//! access to each atomic (tokio-rs/loom#392, #166): when thread X loads a word and
//! thread Y then loads it and writes it, X's load is forgotten and the order "Y's
//! write before X's load" may never be tried. So every model spawns its writer
//! first (the first execution runs it first, and the later reader's load is then
//! seen to race with that write), and each model tallies which sequential history
//! every execution matched and fails unless all of them were explored.
//!
//! Known blind spot of the same cause: a log check that reads the head, stalls, and
//! then reads a slot that another thread claimed and wrote meanwhile. Every slot
//! write is a load then a compare-exchange by the writer, so loom forgets the
//! stalled reader's load and never schedules that order; the re-validation of the
//! head on `LogCell::run`'s deny path is therefore not exercised here (removing it
//! passes these models, even with unbounded preemptions).

use loom::sync::Arc;
use loom::thread;
use ratecell::{Algorithm, Decision, DirectLimiter, ManualClock, Quota};
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const PERIOD: Duration = Duration::from_secs(1);

/// Where every model's clock stands while threads race. Not 0: an unwritten log
/// slot reads 0, a long-expired entry at this time, so a slot the helping protocol
/// failed to complete shows up as an over-admission instead of hiding.
const START: Duration = Duration::from_secs(5);

const NS: Duration = Duration::from_nanos(1);

type Shared = Arc<DirectLimiter<ManualClock>>;

fn quota(limit: u32) -> Quota {
    Quota::new(limit, PERIOD).unwrap()
}

/// A limiter and its clock, standing at [`START`].
fn setup(algorithm: Algorithm, q: Quota) -> (Shared, ManualClock) {
    let clock = ManualClock::new();
    clock.set(START);
    let lim = DirectLimiter::builder(q)
        .algorithm(algorithm)
        .clock(clock.clone())
        .build()
        .unwrap();
    (Arc::new(lim), clock)
}

/// Like [`setup`], after `n` admissions one period earlier: the log's slots then
/// hold expired times from the previous lap (so an unwritten slot would read as
/// expired) and its position is `n mod L`, so claims wrap around the ring.
fn setup_after(algorithm: Algorithm, q: Quota, n: usize) -> (Shared, ManualClock) {
    let (lim, clock) = setup(algorithm, q);
    clock.set(START - PERIOD);
    for _ in 0..n {
        assert!(lim.check().is_allowed());
    }
    clock.set(START);
    // An allowed decision counts what is left after it: the whole quota but one.
    let fresh = lim.peek();
    assert!(fresh.is_allowed());
    assert_eq!(fresh.remaining(), fresh.limit() - 1);
    (lim, clock)
}

/// The distinct outcomes a model's executions produced, and how many executions
/// there were. A std mutex: loom neither sees nor schedules it.
struct Seen<T>(Mutex<(BTreeSet<T>, usize)>);

impl<T: Ord + Clone + std::fmt::Debug> Seen<T> {
    fn new() -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self(Mutex::new((BTreeSet::new(), 0))))
    }
    fn record(&self, outcome: T) {
        let mut seen = self.0.lock().unwrap();
        seen.0.insert(outcome);
        seen.1 += 1;
    }
    /// Fails unless exactly `all` outcomes were seen; prints the execution count.
    fn assert_all(&self, name: &str, started: Instant, all: impl IntoIterator<Item = T>) {
        let seen = self.0.lock().unwrap();
        println!(
            "loom model {name}: {} executions, {} outcomes, {:.2?}",
            seen.1,
            seen.0.len(),
            started.elapsed()
        );
        let all: BTreeSet<T> = all.into_iter().collect();
        assert_eq!(seen.0, all, "{name}: not every sequential history explored");
    }
}

/// From a full quota admitted at [`START`]: once the state has aged out, the whole
/// capacity again and not one more. The windows, which free nothing early, still
/// admit nothing a nanosecond before.
fn assert_refills(lim: &DirectLimiter<ManualClock>, clock: &ManualClock, capacity: u32) {
    match lim.algorithm() {
        Algorithm::FixedWindow | Algorithm::SlidingWindowLog => {
            clock.advance(PERIOD - NS);
            // For the log this is what fails if a claimed slot was never written:
            // every entry says START, so each still counts until START + P.
            assert!(!lim.check().is_allowed());
            clock.advance(NS);
        }
        // The counter weights the previous window fully at the start of the next.
        Algorithm::SlidingWindowCounter => clock.advance(2 * PERIOD),
        // The bucket refills by B·T <= P.
        _ => clock.advance(PERIOD),
    }
    for _ in 0..capacity {
        assert!(lim.check().is_allowed());
    }
    assert!(!lim.check().is_allowed());
}

/// Every way `threads` threads of `checks` checks each can share `capacity`
/// admissions.
fn splits(threads: usize, checks: usize, capacity: usize) -> Vec<Vec<usize>> {
    let mut all = vec![vec![]];
    for _ in 0..threads {
        all = all
            .into_iter()
            .flat_map(|v: Vec<usize>| {
                (0..=checks).map(move |c| {
                    let mut v = v.clone();
                    v.push(c);
                    v
                })
            })
            .collect();
    }
    all.retain(|v| v.iter().sum::<usize>() == capacity);
    all
}

/// `threads` threads check `checks` times each: exactly the capacity is admitted in
/// total, or every check if they all fit (every split among the threads is
/// explored); then exactly the rest is left, and once the state ages out the full
/// capacity is admitted again.
fn exact_total(name: &str, algorithm: Algorithm, q: Quota, threads: usize, checks: usize) {
    exact_total_from(name, algorithm, q, threads, checks, 0);
}

/// [`exact_total`] on a limiter that admitted `before` requests one period earlier.
fn exact_total_from(
    name: &str,
    algorithm: Algorithm,
    q: Quota,
    threads: usize,
    checks: usize,
    before: usize,
) {
    let capacity = if matches!(algorithm, Algorithm::TokenBucket | Algorithm::LeakyBucket) {
        q.burst()
    } else {
        q.limit()
    };
    let admitted = capacity.min((threads * checks) as u32);
    let seen = Seen::new();
    let record = seen.clone();
    let started = Instant::now();
    loom::model(move || {
        let (lim, clock) = setup_after(algorithm, q, before);
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let lim = lim.clone();
                thread::spawn(move || (0..checks).filter(|_| lim.check().is_allowed()).count())
            })
            .collect();
        let split: Vec<usize> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(split.iter().sum::<usize>(), admitted as usize);
        for _ in admitted..capacity {
            assert!(lim.check().is_allowed());
        }
        assert!(!lim.check().is_allowed());
        assert_eq!(lim.peek().remaining(), 0);
        assert_refills(&lim, &clock, capacity);
        record.record(split);
    });
    seen.assert_all(name, started, splits(threads, checks, admitted as usize));
}

// 1. Token bucket: exactly the burst, however the checks interleave.

#[test]
fn token_bucket_two_threads_two_checks_burst_3() {
    exact_total(
        "token_bucket 2x2 B=3",
        Algorithm::TokenBucket,
        quota(3),
        2,
        2,
    );
}

#[test]
fn token_bucket_three_threads_one_check_burst_2() {
    exact_total(
        "token_bucket 3x1 B=2",
        Algorithm::TokenBucket,
        quota(2),
        3,
        1,
    );
}

// 2. Window algorithms: exactly the limit.

#[test]
fn fixed_window_two_threads_two_checks_limit_3() {
    exact_total(
        "fixed_window 2x2 L=3",
        Algorithm::FixedWindow,
        quota(3),
        2,
        2,
    );
}

#[test]
fn fixed_window_three_threads_one_check_limit_2() {
    exact_total(
        "fixed_window 3x1 L=2",
        Algorithm::FixedWindow,
        quota(2),
        3,
        1,
    );
}

#[test]
fn sliding_counter_two_threads_two_checks_limit_3() {
    exact_total(
        "sliding_counter 2x2 L=3",
        Algorithm::SlidingWindowCounter,
        quota(3),
        2,
        2,
    );
}

#[test]
fn sliding_counter_three_threads_one_check_limit_2() {
    exact_total(
        "sliding_counter 3x1 L=2",
        Algorithm::SlidingWindowCounter,
        quota(2),
        3,
        1,
    );
}

#[test]
fn sliding_log_two_threads_two_checks_limit_3() {
    exact_total(
        "sliding_log 2x2 L=3",
        Algorithm::SlidingWindowLog,
        quota(3),
        2,
        2,
    );
}

#[test]
fn sliding_log_three_threads_one_check_limit_2() {
    exact_total(
        "sliding_log 3x1 L=2",
        Algorithm::SlidingWindowLog,
        quota(2),
        3,
        1,
    );
}

/// The same on a log one lap in: slots hold the previous period's (expired) times
/// and the claims start mid-ring and wrap.
#[test]
fn sliding_log_two_threads_two_checks_limit_3_second_lap() {
    exact_total_from(
        "sliding_log 2x2 L=3 second lap",
        Algorithm::SlidingWindowLog,
        quota(3),
        2,
        2,
        2,
    );
}

#[test]
fn sliding_log_three_threads_one_check_limit_2_second_lap() {
    exact_total_from(
        "sliding_log 3x1 L=2 second lap",
        Algorithm::SlidingWindowLog,
        quota(2),
        3,
        1,
        1,
    );
}

/// Two checks that both fit, on a log one lap in: both are admitted, whichever
/// claims first, so a check that denies on a head and slots of different laps
/// shows up here.
#[test]
fn sliding_log_two_threads_one_check_limit_2_second_lap() {
    exact_total_from(
        "sliding_log 2x1 L=2 second lap",
        Algorithm::SlidingWindowLog,
        quota(2),
        2,
        1,
        2,
    );
}

/// L = 2, one expired entry from the previous period, so the log's position is 1:
/// a cost-2 check (its claim wraps over both slots) races a cost-1 check. Exactly
/// one is admitted, whichever comes first; what it left is then exactly available,
/// and a period later the full limit again.
#[test]
fn sliding_log_cost_two_races_cost_one() {
    let name = "sliding_log check_n(2) vs check L=2";
    let seen = Seen::new();
    let record = seen.clone();
    let started = Instant::now();
    loom::model(move || {
        let (lim, clock) = setup_after(Algorithm::SlidingWindowLog, quota(2), 1);
        let pair = lim.clone();
        let a = thread::spawn(move || pair.check_n(2).unwrap().is_allowed());
        let single = lim.clone();
        let b = thread::spawn(move || single.check().is_allowed());
        let (pair, one) = (a.join().unwrap(), b.join().unwrap());
        assert!(
            pair != one,
            "exactly one of check_n(2) and check() is admitted"
        );
        let left = if pair { 0 } else { 1 };
        assert_eq!(lim.peek().is_allowed(), left > 0);
        for _ in 0..left {
            assert!(lim.check().is_allowed());
        }
        assert!(!lim.check().is_allowed());
        assert_refills(&lim, &clock, 2);
        record.record(pair);
    });
    seen.assert_all(name, started, [false, true]);
}

// 3. peek racing check.

/// Burst/limit 1: A checks while B peeks. A is always admitted, with exactly the
/// sequential decision; B's peek is exactly the sequential peek before A's check or
/// the one after it, and both orders occur.
fn peek_races_check(name: &str, algorithm: Algorithm) {
    let seen = Seen::new();
    let record = seen.clone();
    let started = Instant::now();
    loom::model(move || {
        let (reference, _) = setup(algorithm, quota(1));
        let before = reference.peek();
        let admit = reference.check();
        let after = reference.peek();
        assert!(before.is_allowed() && admit.is_allowed() && !after.is_allowed());

        let (lim, _) = setup(algorithm, quota(1));
        let checker = lim.clone();
        let a = thread::spawn(move || checker.check());
        let peeker = lim.clone();
        let b = thread::spawn(move || peeker.peek());
        let (checked, peeked) = (a.join().unwrap(), b.join().unwrap());
        assert_eq!(checked, admit);
        if peeked.is_allowed() {
            assert_eq!(peeked, before, "a peek linearized before the check");
        } else {
            assert_eq!(peeked, after, "a peek linearized after the check");
        }
        assert!(!lim.check().is_allowed());
        record.record(peeked.is_allowed());
    });
    seen.assert_all(name, started, [false, true]);
}

#[test]
fn token_bucket_peek_races_check() {
    peek_races_check("token_bucket peek vs check", Algorithm::TokenBucket);
}

#[test]
fn fixed_window_peek_races_check() {
    peek_races_check("fixed_window peek vs check", Algorithm::FixedWindow);
}

#[test]
fn sliding_counter_peek_races_check() {
    peek_races_check(
        "sliding_counter peek vs check",
        Algorithm::SlidingWindowCounter,
    );
}

#[test]
fn sliding_log_peek_races_check() {
    peek_races_check("sliding_log peek vs check", Algorithm::SlidingWindowLog);
}

// 4. reset racing check.

/// B's decision and a final check's, in one sequential history.
fn history(algorithm: Algorithm, reset_first: bool) -> (Decision, Decision) {
    let (lim, _) = setup(algorithm, quota(1));
    assert!(lim.check().is_allowed());
    if reset_first {
        lim.reset();
    }
    let b = lim.check();
    if !reset_first {
        lim.reset();
    }
    (b, lim.check())
}

/// Burst/limit 1, used up; then A resets while B checks. B's decision and a final
/// check's are exactly those of one of the two sequential histories (B admitted and
/// the final check denied, or the reverse), and both occur.
fn reset_races_check(name: &str, algorithm: Algorithm) {
    let seen = Seen::new();
    let record = seen.clone();
    let started = Instant::now();
    loom::model(move || {
        let reset_first = history(algorithm, true);
        let check_first = history(algorithm, false);
        assert!(reset_first.0.is_allowed() && !reset_first.1.is_allowed());
        assert!(!check_first.0.is_allowed() && check_first.1.is_allowed());

        let (lim, _) = setup(algorithm, quota(1));
        assert!(lim.check().is_allowed());
        let resetter = lim.clone();
        let a = thread::spawn(move || resetter.reset());
        let checker = lim.clone();
        let b = thread::spawn(move || checker.check());
        a.join().unwrap();
        let b = b.join().unwrap();
        let outcome = (b, lim.check());
        if b.is_allowed() {
            assert_eq!(outcome, reset_first);
        } else {
            assert_eq!(outcome, check_first);
        }
        record.record(b.is_allowed());
    });
    seen.assert_all(name, started, [false, true]);
}

#[test]
fn token_bucket_reset_races_check() {
    reset_races_check("token_bucket reset vs check", Algorithm::TokenBucket);
}

#[test]
fn sliding_log_reset_races_check() {
    reset_races_check("sliding_log reset vs check", Algorithm::SlidingWindowLog);
}

// 5. Leaky bucket.

/// Burst 2, T = 500 ms: both are admitted, one to leave now and one a full interval
/// later, and either thread can be the first.
#[test]
fn leaky_bucket_two_checks_are_spaced_one_interval() {
    let name = "leaky_bucket 2x1 B=2";
    let seen = Seen::new();
    let record = seen.clone();
    let started = Instant::now();
    loom::model(move || {
        let q = quota(2);
        let t = q.emission_interval();
        let (lim, _) = setup(Algorithm::LeakyBucket, q);
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let lim = lim.clone();
                thread::spawn(move || lim.check())
            })
            .collect();
        let d: Vec<Decision> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(d[0].is_allowed() && d[1].is_allowed());
        let delays = [d[0].delay(), d[1].delay()];
        let mut sorted = delays;
        sorted.sort();
        assert_eq!(sorted, [Duration::ZERO, t]);
        assert!(!lim.check().is_allowed());
        record.record(delays);
    });
    let t = quota(2).emission_interval();
    seen.assert_all(name, started, [[Duration::ZERO, t], [t, Duration::ZERO]]);
}
