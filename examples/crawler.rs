//! A crawler's outbound limit: many tasks share one rate toward a site, each waits
//! its turn, and the turns come in the order the tasks asked, one interval apart.
//! A second limit caps how many fetches are in flight at once.
//!
//! `cargo run --release --example crawler`
//!
//! The "fetches" are simulated (a short sleep), so the example needs no network;
//! it takes about two seconds.

use ratecell::{ConcurrencyLimiter, DirectLimiter, Quota};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PAGES: usize = 24;

// One thread is plenty for a crawler that mostly waits; its tasks start in the
// order they were spawned, so they book their turns in that order.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Be polite: 12 requests a second toward the site, with a burst of 4.
    let rate = Arc::new(DirectLimiter::builder(Quota::per_second(12)?.with_burst(4)?).build()?);
    // And never more than 3 requests in flight to it.
    let in_flight = Arc::new(ConcurrencyLimiter::new(3)?);
    let start = Instant::now();

    let mut tasks = Vec::new();
    for page in 0..PAGES {
        let (rate, in_flight) = (rate.clone(), in_flight.clone());
        tasks.push(tokio::spawn(async move {
            // Books this page's turn and sleeps until it; dropping the future (a
            // timeout, a shutdown) would give the turn back.
            let admitted = rate.until_ready().await;
            assert!(admitted.is_allowed());
            let sent = start.elapsed();
            let _permit = in_flight.acquire_owned_async().await;
            fetch(page).await;
            (page, sent)
        }));
    }

    let mut previous = Duration::ZERO;
    for task in tasks {
        let (page, sent) = task.await?;
        let gap = sent.saturating_sub(previous);
        previous = sent;
        println!(
            "page {page:>2}: sent at {:>6.1} ms (+{:>5.1} ms)",
            ms(sent),
            ms(gap)
        );
    }
    println!(
        "{PAGES} pages in {:.1} ms: a burst of 4, then one every {:.1} ms",
        ms(start.elapsed()),
        1000.0 / 12.0
    );
    Ok(())
}

/// Stands in for an HTTP request.
async fn fetch(page: usize) {
    tokio::time::sleep(Duration::from_millis(20 + (page as u64 * 7) % 30)).await;
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
