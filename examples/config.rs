//! Rate limits from a TOML file: one limiter per route, stacked quotas, and
//! per-plan tiers.
//!
//! ```text
//! cargo run --example config --features serde [FILE]
//! ```
//!
//! FILE defaults to `examples/policies.toml`. A bad value is reported with the
//! field it was in, and the program exits with status 1.

use ratecell::config::LimiterConfig;
use ratecell::{Limiter, StackedLimiter, Tier};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::process::ExitCode;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    routes: BTreeMap<String, LimiterConfig>,
}

/// A route's limiter: a stack when its quota is several, else one limiter and
/// its tiers.
enum Route {
    Stacked(StackedLimiter),
    Tiered(Box<Limiter>, BTreeMap<String, Tier>),
}

fn load(text: &str) -> Result<BTreeMap<String, Route>, Box<dyn std::error::Error>> {
    let file: File = toml::from_str(text)?;
    let mut routes = BTreeMap::new();
    for (name, config) in file.routes {
        let route = if config.quota.0.len() > 1 {
            Route::Stacked(config.stacked_builder()?.build()?)
        } else {
            let lim = config.builder()?.build()?;
            let tiers = config.tiers_for(&lim)?;
            Route::Tiered(Box::new(lim), tiers)
        };
        routes.insert(name, route);
    }
    Ok(routes)
}

fn main() -> ExitCode {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/examples/policies.toml").into());
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let routes = match load(&text) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    for (name, route) in &routes {
        match route {
            Route::Stacked(stack) => {
                let quotas: Vec<String> = stack.quotas().iter().map(|q| q.to_string()).collect();
                let admitted = (0..20)
                    .filter(|_| stack.check("client").is_allowed())
                    .count();
                println!(
                    "{name}: stack [{}]: {admitted} of 20 admitted at once",
                    quotas.join("; ")
                );
            }
            Route::Tiered(lim, tiers) => {
                let admitted = (0..30).filter(|_| lim.check("client").is_allowed()).count();
                println!(
                    "{name}: {} ({:?}): {admitted} of 30 admitted",
                    lim.quota(),
                    lim.algorithm()
                );
                for (plan, tier) in tiers {
                    let key = format!("{plan}-client");
                    let admitted = (0..30)
                        .filter(|_| lim.check_with(tier, &key).is_ok_and(|d| d.is_allowed()))
                        .count();
                    println!(
                        "  tier {plan} ({}): {admitted} of 30 admitted",
                        tier.quota()
                    );
                }
            }
        }
    }
    ExitCode::SUCCESS
}
