//! Snapshots: a limiter's state in a compact, checksummed file, so that a restarted
//! server keeps its limits.
//!
//! The format is documented byte by byte in the repository's `FORMAT.md`:
//! a 120-byte header (magic, format version, algorithm and quota, the table's
//! shape, its hash seeds and a fingerprint of the hash function, the clock at the
//! save, the entry count), one variable-length entry per live key (the gap to the
//! previous slot, the key's tag, and its state, or a sliding-window log's live
//! times), about 14 bytes for a bucket's key, and a CRC32C of everything before it.
//!
//! * **Saving** ([`Limiter::snapshot_to`]) runs while other threads keep checking:
//!   every saved entry is one atomic load of a slot (and of its log, validated
//!   like a check's), a state that existed. Only live keys are written. The file is written to a temporary file in the same
//!   directory, synced, renamed over the target and the directory synced, with mode
//!   0600 (it holds the hash seeds), so the target is always either the previous
//!   file or the new one, whole.
//! * **Restoring** ([`Limiter::restore_from`]) checks the whole file before it
//!   changes anything, then empties the table, adopts the file's hash seeds and
//!   installs each entry in its slot. The file's contents *replace* the limiter's: keys the
//!   limiter held that the file does not are forgotten. States hold absolute times,
//!   so time spent offline counts as elapsed by itself: states that expired
//!   meanwhile are dropped, and states further ahead of the clock than the
//!   algorithm can ever produce are clamped (see `clamp.rs`).

mod clamp;
mod direct;
mod error;
mod file;
mod format;
mod io;
mod keyed;
mod save;

// The fuzz targets' checks: built for the fuzzer, and for the unit test that
// replays the committed corpora.
#[cfg(any(fuzzing, test))]
#[doc(hidden)]
pub mod __fuzz;
#[cfg(test)]
mod tests;

pub use error::{EntryProblem, FileOp, HeaderProblem, Refusal, SnapshotError};
pub use file::SnapshotFile;
pub use format::{LogTimes, SnapshotEntry, SnapshotHeader, SnapshotKind};

use crate::algorithm::{rebase, Algorithm, Params};
use crate::clock::{Clock, Nanos};
use crate::limiter::{DirectCell, DirectLimiter, Limiter};
use crate::quota::Quota;
use crate::store::MemoryStore;
use crate::table::GROUP_SLOTS;
use clamp::Restored;
use core::fmt;
use format::{HEADER_LEN, VERSION};
use std::path::{Path, PathBuf};

/// What a save or a restore did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SnapshotInfo {
    /// Entries in the file: written (save) or read (restore).
    pub entries: u64,
    /// Restore: entries installed into the limiter (`entries - expired`). Save: 0.
    pub restored: u64,
    /// Save: keys left out because their state had expired. Restore: entries
    /// dropped because their state expired between the save and the restore.
    pub expired: u64,
    /// Restore: entries whose state lay further ahead of the clock than the
    /// algorithm allows, and was moved back to the furthest state it allows.
    pub clamped: u64,
    /// Save: slots left out because another slot held the same tag (a key that
    /// moved while the save was scanning; the later-expiring state is kept).
    pub duplicates: u64,
    /// The file's size in bytes.
    pub bytes: u64,
    /// The saving clock's reading, as stored in the file.
    pub saved_at: Nanos,
}

/// The checks a file's header must pass against the limiter it is restored into.
/// Another quota is no reason to refuse: the states are reinterpreted
/// ([`restore_word`], [`judge_log`]).
fn check_against(
    h: &SnapshotHeader,
    kind: SnapshotKind,
    algorithm: Algorithm,
) -> Result<(), Refusal> {
    if h.kind != kind {
        return Err(Refusal::KindMismatch { file: h.kind });
    }
    if h.algorithm != algorithm {
        return Err(Refusal::AlgorithmMismatch {
            file: h.algorithm,
            limiter: algorithm,
        });
    }
    Ok(())
}

/// A saved word, stored under the file's quota (`file`, canonical), judged at
/// `now` and reinterpreted for the limiter's parameters (`live`): judged under the
/// quota it was saved with, re-encoded as `set_quota` keeps states, then judged
/// again under the limiter's quota, which clamps what its quota cannot reach.
fn restore_word(file: &Params, live: &Params, state: u64, now: Nanos) -> Restored {
    let Restored::Live { state, clamped } = clamp::judge(file, state, now) else {
        return Restored::Expired;
    };
    match clamp::judge(live, rebase::word(file, live, state, now), now) {
        Restored::Live {
            state,
            clamped: again,
        } => Restored::Live {
            state,
            clamped: clamped || again,
        },
        Restored::Expired => Restored::Expired,
    }
}

/// The canonical parameters of a file's quota (the header was validated against
/// its algorithm when decoded).
fn file_params(h: &SnapshotHeader, live: &Params) -> Params {
    Params::new(h.algorithm, &h.quota).unwrap_or(*live)
}

/// Writes a snapshot's bytes to `path` atomically (see `io::write_atomic`).
fn save_to(
    path: &Path,
    encoded: Result<(Vec<u8>, SnapshotInfo), Refusal>,
) -> Result<SnapshotInfo, SnapshotError> {
    let (bytes, info) = encoded.map_err(|r| SnapshotError::refused(path, r))?;
    io::write_atomic(path, &bytes)?;
    Ok(info)
}

/// A saved log judged at `now`: its times, clamped to `now` (no admission is
/// later than the clock), without those that have left the window. Returns
/// whether any time was clamped; `times` empty means expired. `p` is the
/// limiter's: a file saved under another quota keeps the times in the limiter's
/// window, at most its ring's length of the newest.
fn judge_log(p: &Params, log: LogTimes<'_>, now: Nanos, times: &mut Vec<Nanos>) -> bool {
    let floor = format::log_floor(p, now);
    times.clear();
    let mut clamped = false;
    for t in log {
        clamped |= t > now;
        if t >= floor {
            times.push(t.min(now));
        }
    }
    let extra = times.len().saturating_sub(p.ring as usize);
    times.drain(..extra);
    clamped
}
