//! Two limiters on two connections, as two processes would hold them, share one
//! limit in Redis: between them they admit exactly the quota.
//!
//! ```sh
//! redis-server --port 6390 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes
//! RATECELL_REDIS_URL=redis://127.0.0.1:6390 cargo run --example redis_shared --features redis
//! ```

use ratecell::redis::{FailurePolicy, RedisLimiter};
use ratecell::{Algorithm, Quota};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url =
        std::env::var("RATECELL_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("example:{}:", std::process::id());
    let build = || {
        RedisLimiter::builder(Quota::per_minute(5).expect("a valid quota"))
            .algorithm(Algorithm::SlidingWindowCounter)
            .prefix(prefix.clone())
            .timeout(Duration::from_millis(100))
            .on_failure(FailurePolicy::Closed)
            .connect(&url)
    };
    let (a, b) = (build().await?, build().await?);
    for i in 0..4 {
        for (name, lim) in [("a", &a), ("b", &b)] {
            let d = lim.check("user:42").await;
            println!(
                "round {i}, process {name}: allowed={} remaining={} retry_after={:?}",
                d.is_allowed(),
                d.remaining(),
                d.retry_after()
            );
        }
    }
    let (sa, sb) = (a.stats(), b.stats());
    println!(
        "admitted {} + {} = {} of 5; failed (closed) {} + {}",
        sa.admitted,
        sb.admitted,
        sa.admitted + sb.admitted,
        sa.failed_closed,
        sb.failed_closed
    );
    a.reset("user:42").await?;
    Ok(())
}
