//! Every algorithm against a plain sequential model, over thousands of random
//! schedules with costs, clock moves (backwards too) and resets.
//!
//! The models are deliberately naive: they keep every admitted unit (or a map of
//! window counts) in wide integers and answer one question, "would cost `n` be
//! admitted at time `t` from this state?". Everything else is derived from that
//! question by search, not by formula: `remaining` is the largest cost that would be
//! admitted, `retry_after` the first time the request would be admitted (binary
//! search over time), `reset_after` the first time the whole quota is free again.
//! So the crate's closed forms are checked against their definitions.

use proptest::prelude::*;
use ratecell::{Algorithm, BuildError, Decision, DirectLimiter, ManualClock, Quota};
use std::collections::BTreeMap;
use std::time::Duration;

trait Model {
    fn boxed(&self) -> Box<dyn Model>;
    /// Would `n` units be admitted at `t`, from the current state?
    fn allowed_at(&self, t: u128, n: u128) -> bool;
    /// Record an admission of `n` units at `t` (only called when allowed).
    fn admit(&mut self, t: u128, n: u128);
    fn reset(&mut self);
    /// Largest cost ever admissible.
    fn max_cost(&self) -> u128;
    /// The first time the state is as good as empty, if it has its own definition.
    fn reset_at(&self, _now: u128) -> Option<u128> {
        None
    }
    fn delay(&self, _now: u128) -> u128 {
        0
    }
}

#[derive(Clone)]
struct Gcra {
    t: u128,
    tau: u128,
    burst: u128,
    tat: u128,
    leaky: bool,
}

impl Model for Gcra {
    fn boxed(&self) -> Box<dyn Model> {
        Box::new(self.clone())
    }
    fn allowed_at(&self, t: u128, n: u128) -> bool {
        n <= self.burst && t + self.tau >= self.tat + self.t * (n.max(1) - 1)
    }
    fn admit(&mut self, t: u128, n: u128) {
        self.tat = self.tat.max(t) + n * self.t;
    }
    fn reset(&mut self) {
        self.tat = 0;
    }
    fn max_cost(&self) -> u128 {
        self.burst
    }
    fn delay(&self, now: u128) -> u128 {
        if self.leaky {
            self.tat.max(now) - now
        } else {
            0
        }
    }
}

#[derive(Clone)]
struct Fixed {
    limit: u128,
    period: u128,
    counts: BTreeMap<u128, u128>,
    last_k: u128,
}

impl Fixed {
    fn window(&self, t: u128) -> u128 {
        (t / self.period).max(self.last_k)
    }
}

impl Model for Fixed {
    fn boxed(&self) -> Box<dyn Model> {
        Box::new(self.clone())
    }
    fn allowed_at(&self, t: u128, n: u128) -> bool {
        self.counts.get(&self.window(t)).copied().unwrap_or(0) + n <= self.limit
    }
    fn admit(&mut self, t: u128, n: u128) {
        let k = self.window(t);
        *self.counts.entry(k).or_default() += n;
        self.last_k = k;
    }
    fn reset(&mut self) {
        self.counts.clear();
        self.last_k = 0;
    }
    fn max_cost(&self) -> u128 {
        self.limit
    }
    fn reset_at(&self, now: u128) -> Option<u128> {
        Some((self.window(now) + 1) * self.period)
    }
}

#[derive(Clone)]
struct Counter {
    limit: u128,
    period: u128,
    counts: BTreeMap<u128, u128>,
    last_k: u128,
}

impl Counter {
    /// (window, time into it): before the last admission's window, its start.
    fn place(&self, t: u128) -> (u128, u128) {
        let k = t / self.period;
        if k < self.last_k {
            (self.last_k, 0)
        } else {
            (k, t - k * self.period)
        }
    }
}

impl Model for Counter {
    fn boxed(&self) -> Box<dyn Model> {
        Box::new(self.clone())
    }
    fn allowed_at(&self, t: u128, n: u128) -> bool {
        let (k, e) = self.place(t);
        let count = |w: u128| self.counts.get(&w).copied().unwrap_or(0);
        let prev = if k == 0 { 0 } else { count(k - 1) };
        prev * (self.period - e) + (count(k) + n) * self.period <= self.limit * self.period
    }
    fn admit(&mut self, t: u128, n: u128) {
        let (k, _) = self.place(t);
        *self.counts.entry(k).or_default() += n;
        self.last_k = k;
    }
    fn reset(&mut self) {
        self.counts.clear();
        self.last_k = 0;
    }
    fn max_cost(&self) -> u128 {
        self.limit
    }
}

#[derive(Clone)]
struct Log {
    limit: u128,
    period: u128,
    entries: Vec<u128>,
    last_t: u128,
}

impl Model for Log {
    fn boxed(&self) -> Box<dyn Model> {
        Box::new(self.clone())
    }
    fn allowed_at(&self, t: u128, n: u128) -> bool {
        let t = t.max(self.last_t);
        let live = self
            .entries
            .iter()
            .filter(|&&e| e + self.period > t)
            .count() as u128;
        live + n <= self.limit
    }
    fn admit(&mut self, t: u128, n: u128) {
        let t = t.max(self.last_t);
        self.entries.extend((0..n).map(|_| t));
        self.last_t = t;
        // Entries at or before last_t - P can never count again (t_eff >= last_t).
        let period = self.period;
        self.entries.retain(|&e| e + period > t);
    }
    fn reset(&mut self) {
        // A reset forgets the newest time too: the fresh log is judged by the clock.
        self.entries.clear();
        self.last_t = 0;
    }
    fn max_cost(&self) -> u128 {
        self.limit
    }
}

/// Far enough for any wait, even after the clock was set far back.
const HORIZON: u128 = 1 << 66;

/// The least `dt` in `0..=hi` with `pred(now + dt)`, given `pred` is monotone.
fn first_time(now: u128, hi: u128, pred: impl Fn(u128) -> bool) -> u128 {
    assert!(pred(now + hi), "model horizon too short");
    let (mut lo, mut hi) = (0, hi);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(now + mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

fn remaining_at(m: &dyn Model, t: u128) -> u128 {
    (0..=m.max_cost())
        .rev()
        .find(|&k| k == 0 || m.allowed_at(t, k))
        .unwrap()
}

#[derive(Debug, PartialEq)]
struct Expect {
    allowed: bool,
    limit: u32,
    remaining: u32,
    reset_after: u128,
    retry_after: Option<u128>,
    delay: u128,
}

fn observe(d: &Decision) -> Expect {
    Expect {
        allowed: d.is_allowed(),
        limit: d.limit(),
        remaining: d.remaining(),
        reset_after: d.reset_after().as_nanos(),
        retry_after: d.retry_after().map(|r| r.as_nanos()),
        delay: d.delay().as_nanos(),
    }
}

/// What the model says a check of `n` at `now` answers; the model admits it if so.
fn expect(m: &mut dyn Model, now: u128, n: u128) -> Expect {
    let allowed = m.allowed_at(now, n);
    let delay = if allowed { m.delay(now) } else { 0 };
    let retry_after = (!allowed).then(|| first_time(now, HORIZON, |t| m.allowed_at(t, n)));
    if allowed {
        m.admit(now, n);
    }
    let view: &dyn Model = &*m;
    let reset_after = view.reset_at(now).map_or_else(
        || first_time(now, HORIZON, |t| remaining_at(view, t) == view.max_cost()),
        |at| at.saturating_sub(now),
    );
    Expect {
        allowed,
        limit: m.max_cost() as u32,
        remaining: remaining_at(view, now) as u32,
        reset_after,
        retry_after,
        delay,
    }
}

#[derive(Clone, Debug)]
enum Op {
    Advance(u64),
    Back(u64),
    Check(u32),
    Peek,
    Reset,
}

fn ops(max_cost: u32, step: u64) -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        6 => (0..=step * 3).prop_map(Op::Advance),
        1 => (0..=step * 2).prop_map(Op::Back),
        10 => (1..=max_cost + 1).prop_map(Op::Check),
        2 => Just(Op::Peek),
        1 => Just(Op::Reset),
    ];
    proptest::collection::vec(op, 1..120)
}

fn build_model(alg: Algorithm, limit: u32, period: u64, burst: u32) -> Box<dyn Model> {
    let t = u128::from(period / u64::from(limit));
    let (l, p) = (u128::from(limit), u128::from(period));
    match alg {
        Algorithm::TokenBucket | Algorithm::LeakyBucket => Box::new(Gcra {
            t,
            tau: t * (u128::from(burst) - 1),
            burst: burst.into(),
            tat: 0,
            leaky: alg == Algorithm::LeakyBucket,
        }),
        Algorithm::FixedWindow => Box::new(Fixed {
            limit: l,
            period: p,
            counts: BTreeMap::new(),
            last_k: 0,
        }),
        Algorithm::SlidingWindowCounter => Box::new(Counter {
            limit: l,
            period: p,
            counts: BTreeMap::new(),
            last_k: 0,
        }),
        Algorithm::SlidingWindowLog => Box::new(Log {
            limit: l,
            period: p,
            entries: vec![],
            last_t: 0,
        }),
        _ => unreachable!(),
    }
}

fn run(alg: Algorithm, limit: u32, period: u64, burst: Option<u32>, start: u64, ops: &[Op]) {
    let mut quota = Quota::new(limit, Duration::from_nanos(period)).unwrap();
    if let Some(b) = burst {
        quota = quota.with_burst(b).unwrap();
    }
    let clock = ManualClock::new();
    clock.set_nanos(start);
    let lim = match DirectLimiter::builder(quota)
        .algorithm(alg)
        .clock(clock.clone())
        .build()
    {
        Ok(lim) => lim,
        Err(BuildError::QuotaTooLargeForAlgorithm(Algorithm::SlidingWindowCounter)) => {
            // Refused exactly when the packed (window, prev, cur) cannot hold every
            // window number below 2^63 ns.
            let windows = u128::from((i64::MAX as u64) / period) + 1;
            assert!(
                windows * (u128::from(limit) + 1).pow(2) > 1 << 64,
                "{quota} refused"
            );
            return;
        }
        Err(e) => panic!("{quota} {alg:?}: {e}"),
    };
    let mut model = build_model(alg, limit, period, quota.burst());
    let max = model.max_cost() as u32;
    for (i, op) in ops.iter().enumerate() {
        let now = u128::from(ratecell::Clock::now(&clock));
        match *op {
            Op::Advance(d) => {
                clock.set_nanos(clock_now(&clock).saturating_add(d).min(i64::MAX as u64))
            }
            Op::Back(d) => clock.set_nanos(clock_now(&clock).saturating_sub(d)),
            Op::Reset => {
                lim.reset();
                model.reset();
            }
            Op::Peek => {
                // Peek answers what a check would, on a scratch copy of the model.
                let want = expect(&mut *model.boxed(), now, 1);
                assert_eq!(
                    observe(&lim.peek()),
                    want,
                    "peek #{i} at {now} ({alg:?} {quota})"
                );
            }
            Op::Check(n) => {
                let got = lim.check_n(n);
                if n > max {
                    let err = got.expect_err("cost above capacity must be refused");
                    assert_eq!((err.requested, err.max), (n, max));
                    continue;
                }
                let got = observe(&got.unwrap());
                let want = expect(&mut *model, now, n.into());
                assert_eq!(got, want, "op #{i} {op:?} at {now} ({alg:?} {quota})");
            }
        }
    }
}

fn clock_now(c: &ManualClock) -> u64 {
    ratecell::Clock::now(c)
}

fn quota_strategy() -> impl Strategy<Value = (u32, u64)> {
    // limit 1..12, period a multiple-ish of the limit with odd remainders too.
    (1u32..12, 1u64..4_000).prop_map(|(l, p)| (l, u64::from(l) * p + p % 7))
}

fn start_strategy() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0u64), 0u64..1_000_000, Just((1u64 << 63) - 50_000_000)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn token_bucket_matches_model((l, p) in quota_strategy(), burst in proptest::option::of(1u32..15),
                                  start in start_strategy(), ops in ops(15, 4_000)) {
        run(Algorithm::TokenBucket, l, p, burst, start, &ops);
    }

    #[test]
    fn leaky_bucket_matches_model((l, p) in quota_strategy(), burst in proptest::option::of(1u32..15),
                                  start in start_strategy(), ops in ops(15, 4_000)) {
        run(Algorithm::LeakyBucket, l, p, burst, start, &ops);
    }

    #[test]
    fn fixed_window_matches_model((l, p) in quota_strategy(), start in start_strategy(), ops in ops(12, 8_000)) {
        run(Algorithm::FixedWindow, l, p, None, start, &ops);
    }

    #[test]
    fn sliding_counter_matches_model((l, p) in quota_strategy(), start in start_strategy(), ops in ops(12, 8_000)) {
        run(Algorithm::SlidingWindowCounter, l, p, None, start, &ops);
    }

    #[test]
    fn sliding_log_matches_model((l, p) in quota_strategy(), start in start_strategy(), ops in ops(12, 8_000)) {
        run(Algorithm::SlidingWindowLog, l, p, None, start, &ops);
    }
}

/// `peek` gives exactly what `check` then gives, for every algorithm and state.
#[test]
fn peek_agrees_with_check_everywhere() {
    for alg in ALL {
        let clock = ManualClock::new();
        let lim = DirectLimiter::builder(Quota::new(5, Duration::from_nanos(1_000)).unwrap())
            .algorithm(alg)
            .clock(clock.clone())
            .build()
            .unwrap();
        for step in 0..400u64 {
            clock.advance(Duration::from_nanos(step * 37 % 301));
            let peeked = lim.peek();
            let checked = lim.check();
            assert_eq!(peeked, checked, "{alg:?} at step {step}");
        }
    }
}

const ALL: [Algorithm; 5] = [
    Algorithm::TokenBucket,
    Algorithm::LeakyBucket,
    Algorithm::FixedWindow,
    Algorithm::SlidingWindowLog,
    Algorithm::SlidingWindowCounter,
];
