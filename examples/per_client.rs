//! A keyed limiter giving every client its own quota: three clients with
//! different request patterns, the header fields of a denied request, the
//! limiter's statistics and memory, and then what a full table does under each
//! `FullPolicy`.
//!
//! `cargo run --release --example per_client`
//!
//! Time comes from a `ManualClock` and the hash seeds are fixed, so the output is
//! the same on every run and every machine.

use ratecell::{Clock, Decision, FullPolicy, Limiter, ManualClock, Quota};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// Any `Hash` type is a key; one limiter may take several key types, so their
/// spaces are kept apart by construction (an address is never a `"user:"` string).
#[derive(Clone, Copy)]
enum Client {
    Ip(IpAddr),
    User(&'static str),
}

const IP: Client = Client::Ip(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)));
const USER_42: Client = Client::User("user:42");
const USER_7: Client = Client::User("user:7");

/// (time in ms, client), in time order: the address bursts 7 at once and keeps
/// pushing; user:42 polls steadily every 500 ms, below the rate; user:7 is idle,
/// then bursts 7 in two waves.
const SCHEDULE: [(u64, Client); 24] = [
    (0, IP),
    (0, IP),
    (0, IP),
    (0, IP),
    (0, IP),
    (0, IP),
    (0, IP),
    (0, USER_42),
    (150, IP),
    (200, IP),
    (500, USER_42),
    (1000, USER_42),
    (1200, USER_7),
    (1200, USER_7),
    (1200, USER_7),
    (1200, USER_7),
    (1300, USER_7),
    (1300, USER_7),
    (1300, USER_7),
    (1500, USER_42),
    (1500, USER_7),
    (2000, USER_42),
    (2500, USER_42),
    (3000, USER_42),
];

/// Fixed only so that the full-table counts below are the same on every run;
/// a real limiter keeps the random seeds it draws by default.
const SEEDS: [u64; 4] = [0x5eed_0001, 0x5eed_0002, 0x5eed_0003, 0x5eed_0004];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    per_client()?;
    full_table()?;
    Ok(())
}

fn per_client() -> Result<(), Box<dyn std::error::Error>> {
    // 5 per second for each client: a token every 200 ms, bursts of up to 5.
    let quota: Quota = "5/second".parse()?;
    let clock = ManualClock::new();
    let limiter = Limiter::builder(quota)
        .capacity(65_536)
        .hash_seeds(SEEDS)
        .clock(clock.clone())
        .build()?;

    println!("Quota {quota} per client; times and durations in milliseconds.\n");
    println!(
        "{:>5}  {:<12}  {:<7}  {:>9}  {:>11}",
        "t", "client", "result", "remaining", "retry_after"
    );
    let mut first_denied: Option<(u64, Decision)> = None;
    for (t, client) in SCHEDULE {
        clock.set(Duration::from_millis(t));
        let (name, d) = match client {
            Client::Ip(ip) => (ip.to_string(), limiter.check(&ip)),
            Client::User(user) => (user.to_string(), limiter.check(user)),
        };
        println!(
            "{:>5}  {:<12}  {:<7}  {:>9}  {:>11}",
            t,
            name,
            if d.is_allowed() { "allowed" } else { "DENIED" },
            d.remaining(),
            // Some iff denied: "-" keeps the allowed rows quiet.
            d.retry_after().map_or_else(|| "-".to_string(), ms),
        );
        if !d.is_allowed() {
            first_denied.get_or_insert((t, d));
        }
    }

    let (t, denied) = first_denied.ok_or("the schedule produced no denial")?;
    println!("\nHeader fields of the first denied response (t = {t} ms):");
    for (name, value) in denied.headers() {
        println!("  {name}: {value}");
    }

    let stats = limiter.stats();
    println!("\nAt t = {} ms:", clock.now() / 1_000_000);
    println!(
        "  stats(): admitted {}, denied {}, evicted {}",
        stats.admitted, stats.denied, stats.evicted
    );
    // A key's state expires once its bucket is full again: only user:42, checked
    // at 3000 ms, still has one; the other two slots are dead and reusable.
    println!("  len(): {} live key(s)", limiter.len());
    println!(
        "  memory_bytes(): {} for capacity() = {} keys ({:.1} bytes per key), fixed since build",
        limiter.memory_bytes(),
        limiter.capacity(),
        limiter.memory_bytes() as f64 / limiter.capacity() as f64,
    );
    println!(
        "  purge_expired(): {} slot(s) emptied now instead of lazily",
        limiter.purge_expired()
    );
    println!();
    Ok(())
}

/// Twice as many live keys as the table was built for, under each policy.
fn full_table() -> Result<(), Box<dyn std::error::Error>> {
    const CAPACITY: usize = 10_000;
    const OFFERED: u32 = 20_000;
    println!("A table built for {CAPACITY} keys offered {OFFERED} new keys at once (quota 1/minute, so none expires):");
    for policy in [FullPolicy::EvictSoonestExpiring, FullPolicy::Deny] {
        let clock = ManualClock::new();
        let limiter = Limiter::builder("1/minute".parse()?)
            .capacity(CAPACITY)
            .full_policy(policy)
            .hash_seeds(SEEDS)
            .clock(clock.clone())
            .build()?;
        let mut first_refused = None;
        for key in 0..OFFERED {
            let d = limiter.check(&key);
            if !d.is_allowed() {
                first_refused.get_or_insert((key, d));
            }
        }
        let s = limiter.stats();
        let live = limiter.len();
        println!(
            "  {policy:?}: admitted {}, denied {}, evicted {}, len() {live}, memory_bytes() {}",
            s.admitted,
            s.denied,
            s.evicted,
            limiter.memory_bytes()
        );
        // Every admitted key holds a slot unless a later one evicted it.
        assert_eq!(live as u64, s.admitted - s.evicted);
        if let Some((key, d)) = first_refused {
            let wait = d.retry_after().ok_or("a denial has a retry_after")?;
            clock.advance(wait);
            println!(
                "    key {key} was refused with retry_after {}; {} ms later it is {}",
                ms(wait),
                ms(wait),
                if limiter.check(&key).is_allowed() {
                    "admitted"
                } else {
                    "DENIED"
                }
            );
        }
    }
    Ok(())
}

/// Milliseconds; a fraction only when there is one.
fn ms(d: Duration) -> String {
    if d.as_nanos() % 1_000_000 == 0 {
        d.as_millis().to_string()
    } else {
        format!("{:.6}", d.as_secs_f64() * 1e3)
    }
}
