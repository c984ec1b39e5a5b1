//! What waiting and keyed in-flight limits cost when nothing has to wait.
//!
//! `wait` admitted at once beside `check` on the same limiter (a booking is a
//! check plus asking the clock how long to sleep), and `KeyedConcurrencyLimiter`'s
//! `try_acquire` + drop beside the textbook keyed semaphore, a `std::sync::Mutex`
//! over a `HashMap` of counts (ahash), on one key and on 1,000 keys in turn.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ratecell::{DirectLimiter, KeyedConcurrencyLimiter, Quota};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// So many per second that nothing ever waits or is denied.
fn roomy() -> Quota {
    Quota::per_second(1_000_000_000).unwrap()
}

fn wait_at_once(c: &mut Criterion) {
    let mut g = c.benchmark_group("wait_admitted_at_once");
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("ratecell_wait", |b| {
        let lim = DirectLimiter::builder(roomy()).build().unwrap();
        b.iter(|| black_box(lim.wait()));
    });
    g.bench_function("ratecell_check", |b| {
        let lim = DirectLimiter::builder(roomy()).build().unwrap();
        b.iter(|| black_box(lim.check()));
    });
    g.finish();
}

/// Per-key counts under one mutex: what a service writes without a library.
struct MutexKeyed {
    counts: Mutex<HashMap<u64, u32, ahash::RandomState>>,
    max: u32,
}

impl MutexKeyed {
    fn try_acquire(&self, key: u64) -> bool {
        let mut counts = self.counts.lock().unwrap();
        let n = counts.entry(key).or_insert(0);
        if *n < self.max {
            *n += 1;
            true
        } else {
            false
        }
    }

    fn release(&self, key: u64) {
        let mut counts = self.counts.lock().unwrap();
        if let Some(n) = counts.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&key);
            }
        }
    }
}

fn keyed_in_flight(c: &mut Criterion) {
    let mut g = c.benchmark_group("keyed_try_acquire_drop");
    g.measurement_time(Duration::from_secs(3));
    for keys in [1u64, 1_000] {
        g.bench_function(format!("ratecell/{keys}"), |b| {
            let lim = KeyedConcurrencyLimiter::new(8, 10_000).unwrap();
            let mut k = 0u64;
            b.iter(|| {
                k = (k + 1) % keys;
                drop(black_box(lim.try_acquire(&k)));
            });
        });
        g.bench_function(format!("mutex_hashmap/{keys}"), |b| {
            let lim = MutexKeyed {
                counts: Mutex::new(HashMap::default()),
                max: 8,
            };
            let mut k = 0u64;
            b.iter(|| {
                k = (k + 1) % keys;
                if black_box(lim.try_acquire(k)) {
                    lim.release(k);
                }
            });
        });
    }
    g.finish();
}

criterion_group!(benches, wait_at_once, keyed_in_flight);
criterion_main!(benches);
