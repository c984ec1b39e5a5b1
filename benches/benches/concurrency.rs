//! ratecell's `ConcurrencyLimiter` beside tokio's `Semaphore` (uncontended
//! `try_acquire` and drop) and beside a `std::sync` Mutex + Condvar semaphore
//! (blocking acquire and release on several threads), each pair in one criterion
//! group so that one run gives a ratio.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode};
use ratecell::ConcurrencyLimiter;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Barrier, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The textbook semaphore: a count under a mutex, and a condvar to sleep on.
struct CondvarSemaphore {
    count: Mutex<u32>,
    max: u32,
    freed: Condvar,
}

impl CondvarSemaphore {
    fn new(max: u32) -> Self {
        Self {
            count: Mutex::new(0),
            max,
            freed: Condvar::new(),
        }
    }

    fn try_acquire(&self) -> bool {
        let mut n = self.count.lock().unwrap();
        if *n < self.max {
            *n += 1;
            true
        } else {
            false
        }
    }

    fn acquire(&self) {
        let mut n = self.count.lock().unwrap();
        while *n >= self.max {
            n = self.freed.wait(n).unwrap();
        }
        *n += 1;
    }

    fn release(&self) {
        *self.count.lock().unwrap() -= 1;
        self.freed.notify_one();
    }
}

/// The floor of a counting semaphore's uncontended take and give-back: one add to
/// take (taken back if it overshoots), one subtract to give back.
struct FloorSemaphore {
    word: AtomicU32,
    max: u32,
}

struct FloorPermit<'a>(&'a FloorSemaphore);

impl FloorSemaphore {
    fn new(max: u32) -> Self {
        Self {
            word: AtomicU32::new(0),
            max,
        }
    }

    #[inline]
    fn try_acquire(&self) -> Option<FloorPermit<'_>> {
        // Acquire: the last holder's work happens-before the new holder's.
        if self.word.fetch_add(1, Ordering::Acquire) < self.max {
            return Some(FloorPermit(self));
        }
        // Relaxed: an overshoot handed out nothing.
        self.word.fetch_sub(1, Ordering::Relaxed);
        None
    }
}

impl Drop for FloorPermit<'_> {
    #[inline]
    fn drop(&mut self) {
        // Release: publishes the holder's work to the next taker.
        self.0.word.fetch_sub(1, Ordering::Release);
    }
}

fn uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("try_acquire_drop");
    g.bench_function("ratecell", |b| {
        let lim = ConcurrencyLimiter::new(8).unwrap();
        b.iter(|| drop(black_box(lim.try_acquire())));
    });
    g.bench_function("tokio_semaphore", |b| {
        let sem = tokio::sync::Semaphore::new(8);
        b.iter(|| drop(black_box(sem.try_acquire())));
    });
    // The least any counting semaphore does, timed in the same shape as the
    // others (an optional permit through `black_box`, given back on drop): one
    // atomic add to take, one subtract to give back. A yardstick, not a limiter:
    // it never wakes anyone.
    g.bench_function("floor", |b| {
        let sem = FloorSemaphore::new(8);
        b.iter(|| drop(black_box(sem.try_acquire())));
    });
    // The first floor, which black-boxes each atomic's result by itself: kept to
    // show how much the shape of the timed code moves a figure this small.
    g.bench_function("floor_two_results", |b| {
        let word = AtomicU32::new(0);
        b.iter(|| {
            // Acquire/Release: what a permit's take and give-back must order.
            black_box(word.fetch_add(1, Ordering::Acquire));
            black_box(word.fetch_sub(1, Ordering::Release));
        });
    });
    g.bench_function("mutex_condvar", |b| {
        let sem = CondvarSemaphore::new(8);
        b.iter(|| {
            if black_box(sem.try_acquire()) {
                sem.release();
            }
        });
    });
    g.finish();
}

/// A little work while a permit is held, so that holders overlap.
fn hold() {
    for i in 0..32u32 {
        black_box(i);
    }
}

/// `threads` threads each take and give back a permit `iters` times; returns the
/// wall time until all are done, so time per iteration is one round of all.
fn rounds<F: Fn() + Sync>(threads: usize, iters: u64, round: F) -> Duration {
    let start = Barrier::new(threads);
    let done = Barrier::new(threads);
    thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(|| {
                start.wait();
                for _ in 0..iters {
                    round();
                }
                done.wait();
            });
        }
        start.wait();
        let t0 = Instant::now();
        for _ in 0..iters {
            round();
        }
        done.wait();
        t0.elapsed()
    })
}

fn contended(c: &mut Criterion) {
    let mut g = c.benchmark_group("blocking_acquire_release");
    // More threads than cores make the Mutex + Condvar side bimodal (a descheduled
    // lock holder stalls every other thread), which throws off criterion's
    // linear sampling; flat sampling keeps a run's length near its estimate.
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    // Half as many permits as threads: half the threads wait at any time.
    for threads in [2usize, 4] {
        let max = (threads / 2) as u32;
        g.bench_with_input(BenchmarkId::new("ratecell", threads), &threads, |b, &t| {
            let lim = ConcurrencyLimiter::new(max).unwrap();
            b.iter_custom(|iters| {
                rounds(t, iters, || {
                    let _p = lim.acquire();
                    hold();
                })
            });
        });
        g.bench_with_input(
            BenchmarkId::new("mutex_condvar", threads),
            &threads,
            |b, &t| {
                let sem = CondvarSemaphore::new(max);
                b.iter_custom(|iters| {
                    rounds(t, iters, || {
                        sem.acquire();
                        hold();
                        sem.release();
                    })
                });
            },
        );
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = uncontended, contended
}
criterion_main!(benches);
