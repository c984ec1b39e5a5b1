//! What the keyed benches share: the quotas, the keys and their orders, the
//! yardsticks, and the two-thread driver. Both `benches/keyed.rs` (criterion) and
//! `benches/keyed_paired.rs` (alternating rounds) include it, so that both time
//! exactly the same work.

use governor::{DefaultKeyedRateLimiter, Quota as GQuota, RateLimiter};
use ratecell::{Clock, DefaultClock, Limiter, Nanos, Quota};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Barrier, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

pub const ONE_M: usize = 1_000_000;

pub struct Quotas {
    pub rc: Quota,
    pub gv: GQuota,
    /// Appended to group names, so the two quotas never overwrite each other's
    /// criterion results.
    pub suffix: &'static str,
}

impl Quotas {
    pub fn from_env() -> Self {
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
    pub fn fast() -> Self {
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
    pub fn long_lived() -> Self {
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

    pub fn group(&self, name: &str) -> String {
        format!("{name}{}", self.suffix)
    }

    pub fn ratecell(&self, capacity: usize) -> Limiter {
        Limiter::builder(self.rc)
            .capacity(capacity)
            .build()
            .unwrap()
    }

    pub fn governor(&self) -> DefaultKeyedRateLimiter<String> {
        RateLimiter::keyed(self.gv)
    }
}

/// The least a keyed limiter must do per check: read the clock, hash the key,
/// read 64 bits of the key's identity and compare-exchange its 64-bit state, at a
/// hash-chosen place in an array of 16 bytes per key (the smallest a store with 64
/// bits of identity can be). It keeps no headroom, resolves no collision, claims
/// nothing and evicts nothing, so it is wrong as a limiter and strictly cheaper
/// than a right one.
pub type Floor = Yardstick<[AtomicU64; 2]>;

/// [`Floor`] with the key's identity and state in one 128-bit word, changed by one
/// 128-bit compare-exchange: the least a check costs in the cell DESIGN §4 asks
/// for (identity and state that change together, so that no update is lost when a
/// slot changes hands). ratecell's table is that cell plus its headroom, probing,
/// claims and eviction, so `floor_128` / `governor` is the best ratio this design
/// could reach on this machine.
pub type Floor128 = Yardstick<portable_atomic::AtomicU128>;

/// A yardstick: a clock, a hasher, and one cell of `C` per key.
pub struct Yardstick<C> {
    clock: DefaultClock,
    hasher: ahash::RandomState,
    cells: Box<[C]>,
}

impl<C: Default> Yardstick<C> {
    pub fn new(keys: usize) -> Self {
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
    pub fn check(&self, key: &str) -> bool {
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
    pub fn check(&self, key: &str) -> bool {
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

pub fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut rng = XorShift(seed);
    for i in (1..v.len()).rev() {
        v.swap(i, rng.below(i + 1));
    }
}

/// `user:0` .. `user:{n-1}`, in a random order fixed by `seed`.
pub fn keys(n: usize, seed: u64) -> Vec<String> {
    let mut v: Vec<String> = (0..n).map(|i| format!("user:{i}")).collect();
    shuffle(&mut v, seed);
    v
}

/// The million keys in two independent orders, one per thread; made once and
/// shared by the 1M-key groups.
pub fn million() -> &'static [Vec<String>; 2] {
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
pub fn next<'a>(keys: &'a [String], pos: &mut usize) -> &'a String {
    let k = &keys[*pos];
    *pos += 1;
    if *pos == keys.len() {
        *pos = 0;
    }
    k
}

/// Runs `iters` checks on this thread and `iters` on one more, released together by
/// a barrier, each walking its own order from its own saved position; returns the
/// wall time until both are done. Time per iteration is then one check on each
/// thread, concurrently, against the same limiter.
pub fn on_two_threads<F: Fn(&String) + Sync>(
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

/// Every side of a keyed bench, built for `capacity` keys, with each of `keys`
/// checked once on each (so that the measured checks find their keys, as far as
/// each store keeps them).
pub struct Sides {
    pub rc: Limiter,
    pub gv: DefaultKeyedRateLimiter<String>,
    pub floor: Floor,
    pub floor_128: Floor128,
}

impl Sides {
    pub fn new(q: &Quotas, capacity: usize, keys: &[String]) -> Self {
        let sides = Self {
            rc: q.ratecell(capacity),
            gv: q.governor(),
            floor: Floor::new(capacity),
            floor_128: Floor128::new(capacity),
        };
        for k in keys {
            assert!(sides.rc.check(k.as_str()).is_allowed());
            assert!(sides.gv.check_key(k).is_ok());
            sides.floor.check(k);
            sides.floor_128.check(k);
        }
        sides
    }
}
