//! # Snapshots: what saving and restoring guarantee
//!
//! `snapshot_to(path)` writes every live key of a limiter to a file, and
//! `restore_from(path)` puts them back, so that a restarted server keeps its
//! limits. Both are on [`Limiter`](crate::Limiter) and
//! [`DirectLimiter`](crate::DirectLimiter), need the default `std` feature, and
//! return a [`SnapshotInfo`](crate::SnapshotInfo) (what was written, restored,
//! dropped as expired or clamped) or a [`SnapshotError`](crate::SnapshotError).
//! The repository's FORMAT.md documents the file byte by byte.
//!
//! # The file
//!
//! A fixed 120-byte header (the algorithm, the quota, the table's shape, the hash
//! keys, a fingerprint of the hash function, the clock's reading at the save),
//! one variable-length entry per live key (a key's slot, tag and state in varints,
//! about 14 bytes for a bucket key; for a sliding-window log, its live times), and
//! a CRC32C of everything. Times in the file are points on the
//! [timeline](super::time), so time spent offline counts as elapsed: entries
//! that expired meanwhile are dropped, and states further ahead than the algorithm
//! allows are clamped.
//!
//! # Saving
//!
//! * A save runs while other threads check: each entry is one atomic read of a
//!   state that existed, so the file holds, for every key, a state the key really
//!   had during the save.
//! * It is atomic: the file is written to a temporary name in the same directory,
//!   synced, renamed over the old one, and the directory is synced. A failed save
//!   leaves the previous file intact.
//! * The file is created with mode 0600: it holds the hash keys, and whoever knows
//!   them can craft colliding keys (see [`identity`](super::identity)).
//! * A large table is scanned by two threads while a third writes and a fourth
//!   syncs every 4 MB, so the disk works during the scan. A replaced file larger
//!   than 4 MB is unlinked on a background thread, under a transient `.old` name,
//!   because freeing a large file's blocks takes the file system a while. A thread
//!   that cannot be spawned fails the save with an I/O error (or the work runs on
//!   fewer threads), never a panic.
//! * Nothing past 2^63 ns is saved or restored.
//!
//! # Restoring
//!
//! * The whole file is validated before anything changes: magic, format version,
//!   algorithm, quota, capacity, the hash fingerprint, lengths against the file's
//!   size (before anything is allocated), the checksum, every entry's varints,
//!   slot, tag and log, and no trailing bytes. Any refusal is a
//!   [`SnapshotError`](crate::SnapshotError) naming the file and the reason, and
//!   leaves the limiter untouched.
//! * A file from another algorithm, kind (direct or keyed) or capacity, or one
//!   whose hash fingerprint differs (`ahash`'s output is not stable across
//!   versions or CPU features), is refused rather than silently mis-keyed.
//! * A file saved under **another quota** is restored, its states reinterpreted as
//!   [`set_quota`](crate::Limiter::set_quota) keeps them: a bucket's time debt
//!   stays and refills at the new rate; a window's counts stay (capped at what the
//!   new quota's states hold); a log's times stay. States the new quota could never
//!   produce are clamped (counted in `SnapshotInfo::clamped`). A window whose
//!   period changed carries its count into the current window of the new period.
//!   So a deploy that changes a quota does not forget who was limited.
//! * The limiter adopts the file's hash keys, and the file's keys replace the
//!   limiter's.
//! * Restore at startup, before traffic: a check racing a restore may see its key
//!   in the old state, the new one, or absent.
//! * Files carry a format version. This build writes version 2 and refuses version
//!   1 files (`UnsupportedVersion`), whose slots mean something else, rather than
//!   look their keys up in the wrong groups; the limiter then starts empty.
//!
//! # Inspecting a file
//!
//! `cargo run --example inspect -- FILE [--entries]` prints a file's header, its
//! entry count and live/expired split, and verifies the checksum (exit code 1 for a
//! bad file).
//!
//! ```
//! use ratecell::{DirectLimiter, ManualClock, Quota, SnapshotError};
//! use std::time::Duration;
//!
//! let path = std::env::temp_dir().join(format!("ratecell-guide-{}.snap", std::process::id()));
//! let clock = ManualClock::new();
//! let lim = DirectLimiter::builder("3/minute".parse::<Quota>()?)
//!     .clock(clock.clone())
//!     .build()?;
//! lim.check_n(3)?;
//! lim.snapshot_to(&path)?;
//!
//! // Twenty seconds offline count as elapsed: one token came back meanwhile.
//! clock.advance(Duration::from_secs(20));
//! let restarted = DirectLimiter::builder("3/minute".parse::<Quota>()?)
//!     .clock(clock.clone())
//!     .build()?;
//! restarted.restore_from(&path)?;
//! assert_eq!(restarted.peek().remaining(), 0); // the one token back, taken by peek itself
//! assert!(restarted.check().is_allowed());
//! assert!(!restarted.check().is_allowed());
//!
//! // Another quota: the debt of three requests (a minute at 3/minute) is kept
//! // and refills at 5/minute, so twenty seconds after the save one request fits.
//! let other = DirectLimiter::builder("5/minute".parse::<Quota>()?)
//!     .clock(clock.clone())
//!     .build()?;
//! other.restore_from(&path)?;
//! assert!(other.check().is_allowed());
//! assert!(!other.check().is_allowed());
//! // Another algorithm's states mean something else: that file is refused.
//! let windowed = DirectLimiter::builder("3/minute".parse::<Quota>()?)
//!     .algorithm(ratecell::Algorithm::FixedWindow)
//!     .clock(clock.clone())
//!     .build()?;
//! let refused: SnapshotError = windowed.restore_from(&path).unwrap_err();
//! assert!(refused.reason().is_some());
//! std::fs::remove_file(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
