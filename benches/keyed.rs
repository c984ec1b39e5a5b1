//! ratecell's keyed `Limiter` beside governor's keyed `RateLimiter` (DashMap store,
//! default hasher, default clock), on the same keys, in the same order, with the
//! same quota, in the same criterion group, so that one run gives a ratio.
//!
//! As in `benches/direct.rs`, `ratecell` branches on the verdict, the work
//! governor's `check_key` does (its `Result` is what is black-boxed), and
//! `ratecell_decision` black-boxes the whole `Decision` (the numbers for the
//! headers). Read the ratio from `ratecell` / `governor`.
//!
//! Keys are `String`s made and shuffled before any timing; both sides get a
//! reference to the same `String` (ratecell hashes it as `str`, governor's map is
//! keyed by `String`), so building or copying keys is never measured. Each side's
//! answer goes through `black_box`.
//!
//! Key positions live outside the timed closures and carry over from one criterion
//! sample to the next: otherwise every short sample would replay the same prefix
//! of the order, which stays in cache and flatters the large-key benches.
//!
//! Each group also times two yardsticks, not limiters. `floor` is the least work
//! any keyed limiter must do per check (see [`Floor`]): `floor` / `governor` is
//! the best ratio any design could reach on this machine. `floor_128` is the same
//! with identity and state in one 128-bit word (see [`Floor128`]), the cell
//! ratecell's table is made of: `floor_128` / `governor` is the best ratio this
//! design could reach. Together they tell a target that is out of reach here from
//! one that is merely unmet.
//!
//! `KEYED_QUOTA=long cargo bench --bench keyed` reruns every group (names suffixed
//! `_long_quota`) with a quota under which a key's state stays live for the whole
//! run; see [`Quotas::long_lived`] for why that is worth a second look.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use governor::{DefaultKeyedRateLimiter, Quota as GQuota, RateLimiter};
use ratecell::{Clock, DefaultClock, Limiter, Nanos, Quota};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Barrier, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

const ONE_M: usize = 1_000_000;

struct Quotas {
    rc: Quota,
    gv: GQuota,
    /// Appended to group names, so the two quotas never overwrite each other's
    /// criterion results.
    suffix: &'static str,
}

impl Quotas {
    fn from_env() -> Self {
        match std::env::var("KEYED_QUOTA").as_deref() {
            Ok("long") => Self::long_lived(),
            _ => Self::fast(),
        }
    }

    /// One request per nanosecond, burst 10^9: a check costs more than a
    /// nanosecond, so every check is allowed on both sides.
    ///
    /// A GCRA state expires once the bucket is full again, here 1 ns after the
    /// key's last check; ratecell then treats the key's slot as free room (state
    /// absent and state expired mean the same), so a later new key may take it.
    fn fast() -> Self {
        Self {
            rc: Quota::new(1_000_000_000, Duration::from_secs(1)).unwrap(),
            gv: GQuota::per_second(NonZeroU32::new(1_000_000_000).unwrap()),
            suffix: "",
        }
    }

    /// One request per second, burst 2^31: every check is still allowed (a key
    /// would need 2^31 checks to run dry, far more than one bench makes), but each
    /// check pushes the key's expiry a second further out, so no key ever expires
    /// during a run and every ratecell check after the first finds its key's slot.
    /// `tau = 1 s * (2^31 - 1)`, about 2.1e18 ns: within both crates' bounds.
    fn long_lived() -> Self {
        const BURST: u32 = 1 << 31;
        Self {
            rc: Quota::new(1, Duration::from_secs(1))
                .and_then(|q| q.with_burst(BURST))
                .unwrap(),
            gv: GQuota::per_second(NonZeroU32::new(1).unwrap())
                .allow_burst(NonZeroU32::new(BURST).unwrap()),
            suffix: "_long_quota",
        }
    }

    fn group(&self, name: &str) -> String {
        format!("{name}{}", self.suffix)
    }

    fn ratecell(&self, capacity: usize) -> Limiter {
        Limiter::builder(self.rc)
            .capacity(capacity)
            .build()
            .unwrap()
    }

    fn governor(&self) -> DefaultKeyedRateLimiter<String> {
        RateLimiter::keyed(self.gv)
    }
}

/// The least a keyed limiter must do per check: read the clock, hash the key,
/// read 64 bits of the key's identity and compare-exchange its 64-bit state, at a
/// hash-chosen place in an array of 16 bytes per key (the smallest a store with 64
/// bits of identity can be). It keeps no headroom, resolves no collision, claims
/// nothing and evicts nothing, so it is wrong as a limiter and strictly cheaper
/// than a right one.
type Floor = Yardstick<[AtomicU64; 2]>;

/// [`Floor`] with the key's identity and state in one 128-bit word, changed by one
/// 128-bit compare-exchange: the least a check costs in the cell DESIGN §4 asks
/// for (identity and state that change together, so that no update is lost when a
/// slot changes hands). ratecell's table is that cell plus its headroom, probing,
/// claims and eviction, so `floor_128` / `governor` is the best ratio this design
/// could reach on this machine.
type Floor128 = Yardstick<portable_atomic::AtomicU128>;

/// A yardstick: a clock, a hasher, and one cell of `C` per key.
struct Yardstick<C> {
    clock: DefaultClock,
    hasher: ahash::RandomState,
    cells: Box<[C]>,
}

impl<C: Default> Yardstick<C> {
    fn new(keys: usize) -> Self {
        Self {
            clock: DefaultClock::new(),
            hasher: ahash::RandomState::with_seeds(1, 2, 3, 4),
            cells: (0..keys).map(|_| C::default()).collect(),
        }
    }

    /// The clock, the key's hash, and its cell.
    #[inline]
    fn locate(&self, key: &str) -> (Nanos, u64, &C) {
        let now = self.clock.now();
        let h = self.hasher.hash_one(key);
        let at = ((u128::from(h) * self.cells.len() as u128) >> 64) as usize;
        (now, h, &self.cells[at])
    }
}

impl Floor {
    #[inline]
    fn check(&self, key: &str) -> bool {
        let (now, h, [id, state]) = self.locate(key);
        // Relaxed: a yardstick; nothing is published.
        if id.load(Ordering::Relaxed) != h {
            id.store(h, Ordering::Relaxed);
        }
        let tat = state.load(Ordering::Relaxed);
        state
            .compare_exchange(tat, tat.max(now) + 1, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

impl Floor128 {
    #[inline]
    fn check(&self, key: &str) -> bool {
        let (now, h, cell) = self.locate(key);
        // Relaxed: a yardstick; nothing is published.
        let word = cell.load(Ordering::Relaxed);
        let tat = if (word >> 64) as u64 == h {
            word as u64
        } else {
            0
        };
        let next = u128::from(h) << 64 | u128::from(tat.max(now) + 1);
        cell.compare_exchange(word, next, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

/// xorshift64*: a fixed seed gives the same order on every run and machine.
struct XorShift(u64);

impl XorShift {
    fn step(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` by multiply-shift; the bias is irrelevant for a shuffle.
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.step()) * n as u128) >> 64) as usize
    }
}

fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut rng = XorShift(seed);
    for i in (1..v.len()).rev() {
        v.swap(i, rng.below(i + 1));
    }
}

/// `user:0` .. `user:{n-1}`, in a random order fixed by `seed`.
fn keys(n: usize, seed: u64) -> Vec<String> {
    let mut v: Vec<String> = (0..n).map(|i| format!("user:{i}")).collect();
    shuffle(&mut v, seed);
    v
}

/// The million keys in two independent orders, one per thread; made once and
/// shared by the 1M-key groups.
fn million() -> &'static [Vec<String>; 2] {
    static KEYS: OnceLock<[Vec<String>; 2]> = OnceLock::new();
    KEYS.get_or_init(|| {
        [
            keys(ONE_M, 0x9E37_79B9_7F4A_7C15),
            keys(ONE_M, 0xD1B5_4A32_D192_ED03),
        ]
    })
}

/// The next key of a cyclic walk.
#[inline(always)]
fn next<'a>(keys: &'a [String], pos: &mut usize) -> &'a String {
    let k = &keys[*pos];
    *pos += 1;
    if *pos == keys.len() {
        *pos = 0;
    }
    k
}

/// Builds both limiters for `keys`, checks every key once on each (so the measured
/// checks find their keys, as far as each store keeps them) and benches a cyclic
/// walk over `keys` on one thread.
fn one_thread(c: &mut Criterion, q: &Quotas, name: &str, keys: &[String]) {
    let rc = q.ratecell(keys.len());
    let gv = q.governor();
    let floor = Floor::new(keys.len());
    let floor_128 = Floor128::new(keys.len());
    for k in keys {
        assert!(rc.check(k.as_str()).is_allowed());
        assert!(gv.check_key(k).is_ok());
        floor.check(k);
        floor_128.check(k);
    }
    let mut g = c.benchmark_group(q.group(name));
    let mut pos = 0;
    g.bench_function("ratecell", |b| {
        b.iter(|| rc.check(next(keys, &mut pos).as_str()).is_allowed());
    });
    let mut pos = 0;
    g.bench_function("ratecell_decision", |b| {
        b.iter(|| rc.check(next(keys, &mut pos).as_str()));
    });
    let mut pos = 0;
    g.bench_function("governor", |b| {
        b.iter(|| gv.check_key(next(keys, &mut pos)));
    });
    let mut pos = 0;
    g.bench_function("floor", |b| {
        b.iter(|| floor.check(next(keys, &mut pos)));
    });
    let mut pos = 0;
    g.bench_function("floor_128", |b| {
        b.iter(|| floor_128.check(next(keys, &mut pos)));
    });
    g.finish();
    // Printed after the group, so that a denial (a quota that does not fit the
    // run) would show up next to the numbers it invalidates.
    eprintln!("{}: ratecell {:?}", q.group(name), rc.stats());
}

fn keyed_1_key(c: &mut Criterion) {
    let q = Quotas::from_env();
    one_thread(c, &q, "keyed_1_key", &keys(1, 1));
}

fn keyed_1k_keys(c: &mut Criterion) {
    let q = Quotas::from_env();
    one_thread(c, &q, "keyed_1k_keys", &keys(1_000, 2));
}

fn keyed_1m_keys(c: &mut Criterion) {
    let q = Quotas::from_env();
    one_thread(c, &q, "keyed_1m_keys", &million()[0]);
}

/// Runs `iters` checks on this thread and `iters` on one more, released together by
/// a barrier, each walking its own order from its own saved position; returns the
/// wall time until both are done. Time per iteration is then one check on each
/// thread, concurrently, against the same limiter.
fn on_two_threads<F: Fn(&String) + Sync>(
    iters: u64,
    orders: &[Vec<String>; 2],
    pos: &mut [usize; 2],
    check: F,
) -> Duration {
    let start = Barrier::new(2);
    let done = Barrier::new(2);
    let [p0, p1] = pos;
    let walk = |order: &[String], p: &mut usize| {
        for _ in 0..iters {
            check(next(order, p));
        }
    };
    thread::scope(|s| {
        s.spawn(|| {
            start.wait();
            walk(&orders[1], p1);
            done.wait();
        });
        start.wait();
        let t0 = Instant::now();
        walk(&orders[0], p0);
        done.wait();
        t0.elapsed()
    })
}

fn keyed_1m_keys_2_threads(c: &mut Criterion) {
    let q = Quotas::from_env();
    let orders = million();
    let rc = q.ratecell(ONE_M);
    let gv = q.governor();
    let floor = Floor::new(ONE_M);
    let floor_128 = Floor128::new(ONE_M);
    for k in &orders[0] {
        assert!(rc.check(k.as_str()).is_allowed());
        assert!(gv.check_key(k).is_ok());
        floor.check(k);
        floor_128.check(k);
    }
    let name = q.group("keyed_1m_keys_2_threads");
    let mut g = c.benchmark_group(&name);
    let mut pos = [0, ONE_M / 2];
    g.bench_function("ratecell", |b| {
        b.iter_custom(|iters| {
            on_two_threads(iters, orders, &mut pos, |k| {
                black_box(rc.check(k.as_str()).is_allowed());
            })
        });
    });
    let mut pos = [0, ONE_M / 2];
    g.bench_function("governor", |b| {
        b.iter_custom(|iters| {
            on_two_threads(iters, orders, &mut pos, |k| {
                let _ = black_box(gv.check_key(k));
            })
        });
    });
    let mut pos = [0, ONE_M / 2];
    g.bench_function("floor", |b| {
        b.iter_custom(|iters| {
            on_two_threads(iters, orders, &mut pos, |k| {
                black_box(floor.check(k));
            })
        });
    });
    let mut pos = [0, ONE_M / 2];
    g.bench_function("floor_128", |b| {
        b.iter_custom(|iters| {
            on_two_threads(iters, orders, &mut pos, |k| {
                black_box(floor_128.check(k));
            })
        });
    });
    g.finish();
    eprintln!("{name}: ratecell {:?}", rc.stats());
}

criterion_group! {
    name = benches;
    // 19 functions at 1 s warm-up + 3 s measurement, plus building and pre-warming
    // the 1M-key limiters (about a second each): the run takes about two minutes.
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = keyed_1_key, keyed_1k_keys, keyed_1m_keys, keyed_1m_keys_2_threads
}
criterion_main!(benches);
