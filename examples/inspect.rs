//! Inspects a ratecell snapshot file: prints its header, its entry count, the
//! bytes its entries take, how many entries would still be live if restored now
//! (by the default clock) and, for a sliding-window log, how many times the logs
//! hold; and verifies everything a restore verifies that does not depend on a
//! limiter (magic, version, header fields, length, CRC32C, hash fingerprint,
//! entries).
//!
//! ```text
//! cargo run --example inspect -- FILE [--entries]
//! ```
//!
//! Exit status: 0 for a good file, 1 for a bad or unreadable one (with the reason
//! on stderr, and whatever of the header could be decoded), 2 for a usage error.

use ratecell::snapshot::{SnapshotFile, SnapshotHeader, SnapshotKind};
use ratecell::{Algorithm, Clock, DefaultClock};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let mut path: Option<PathBuf> = None;
    let mut entries = false;
    for arg in std::env::args_os().skip(1) {
        match arg.to_str() {
            Some("--entries") => entries = true,
            Some("-h" | "--help") => return usage(),
            _ if path.is_none() => path = Some(arg.into()),
            _ => return usage(),
        }
    }
    let Some(path) = path else {
        return usage();
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", path.display());
            return ExitCode::from(1);
        }
    };
    let len = bytes.len();
    let now = DefaultClock::new().now();
    match SnapshotFile::from_bytes(bytes.clone()) {
        Ok(file) => {
            println!("file:         {} ({len} bytes)", path.display());
            print!("{}", header_text(file.header(), now));
            let h = file.header();
            // Entries are variable-length: what they take is the file less its
            // fixed 120-byte header and 4-byte checksum.
            let body = len - 124;
            println!(
                "entry bytes:  {body}{}",
                per_entry(body as u64, h.entry_count, "per entry")
            );
            let is_log = h.algorithm == Algorithm::SlidingWindowLog;
            if is_log {
                let times: u64 = file.entries().map(|e| e.log.len() as u64).sum();
                println!(
                    "log times:    {times}{} (at most {} each)",
                    per_entry(times, h.entry_count, "per entry"),
                    h.quota.limit()
                );
            }
            let (live, expired) = file.live_at(now);
            println!("live now:     {live} (expired since the save: {expired})");
            let crc = u32::from_le_bytes(bytes[len - 4..].try_into().expect("4 bytes"));
            println!("checksum:     ok (CRC32C {crc:#010x}); fingerprint and entries ok");
            if entries {
                if is_log {
                    println!(
                        "\n{:>12}  {:>16}  {:>6}  {:>20}  {:>20}",
                        "slot", "tag", "times", "oldest", "newest"
                    );
                } else {
                    println!("\n{:>12}  {:>16}  {:>20}", "slot", "tag", "state");
                }
                for e in file.entries() {
                    if is_log {
                        let n = e.log.len();
                        let oldest = e.log.clone().next().unwrap_or(0);
                        // The state is 1 + the newest time.
                        let newest = e.state - 1;
                        println!(
                            "{:>12}  {:016x}  {n:>6}  {oldest:>20}  {newest:>20}",
                            e.slot, e.tag
                        );
                    } else {
                        println!("{:>12}  {:016x}  {:>20}", e.slot, e.tag, e.state);
                    }
                }
            }
            ExitCode::SUCCESS
        }
        Err(reason) => {
            eprintln!("error: {}: {reason}", path.display());
            if let Ok(h) = SnapshotHeader::parse(&bytes) {
                eprint!("\nthe header, unverified:\n{}", header_text(&h, now));
            }
            ExitCode::from(1)
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: cargo run --example inspect -- FILE [--entries]");
    ExitCode::from(2)
}

fn header_text(h: &SnapshotHeader, now: u64) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let kind = match h.kind {
        SnapshotKind::Keyed => "keyed limiter",
        SnapshotKind::Direct => "direct limiter",
    };
    let q = &h.quota;
    let explicit = if q.has_explicit_burst() {
        ", explicit"
    } else {
        ""
    };
    let _ = writeln!(out, "format:       version {}, {kind}", h.version);
    let _ = writeln!(out, "algorithm:    {:?}", h.algorithm);
    let _ = writeln!(
        out,
        "quota:        {q} (limit {}, period {} ns, burst {}{explicit})",
        q.limit(),
        q.period().as_nanos(),
        q.burst()
    );
    if h.kind == SnapshotKind::Keyed {
        let _ = writeln!(
            out,
            "table:        {} groups x {} slots = {} slots",
            h.group_count,
            h.slots_per_group,
            h.slot_count()
        );
        let _ = writeln!(out, "hash seeds:   {:016x?}", h.seeds);
        let _ = writeln!(out, "fingerprint:  {:016x?}", h.fingerprint);
    }
    let age = if now >= h.saved_at {
        format!("{} ago", human(now - h.saved_at))
    } else {
        format!("{} in the future", human(h.saved_at - now))
    };
    let _ = writeln!(
        out,
        "saved at:     {} ns on the timeline ({age})",
        h.saved_at
    );
    let _ = writeln!(out, "entries:      {}", h.entry_count);
    out
}

/// ", avg X.Y per entry" (nothing for no entries).
fn per_entry(total: u64, entries: u64, what: &str) -> String {
    if entries == 0 {
        return String::new();
    }
    format!(", avg {:.1} {what}", total as f64 / entries as f64)
}

fn human(nanos: u64) -> String {
    let s = nanos / 1_000_000_000;
    match s {
        0 => format!("{:?}", Duration::from_nanos(nanos)),
        1..=3_599 => format!("{}m {}s", s / 60, s % 60),
        3_600..=86_399 => format!("{}h {}m", s / 3_600, s % 3_600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3_600),
    }
}
