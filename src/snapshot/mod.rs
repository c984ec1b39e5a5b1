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
mod format;
mod io;
mod save;

#[doc(hidden)]
pub mod __fuzz;
#[cfg(test)]
mod tests;

pub use format::{LogTimes, SnapshotEntry, SnapshotHeader, SnapshotKind};

use crate::algorithm::{Algorithm, Params};
use crate::clock::{Clock, Nanos};
use crate::limiter::{DirectCell, DirectLimiter, Limiter};
use crate::quota::Quota;
use crate::table::memory::MemoryStore;
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

/// What is wrong with a file's contents (or with the limiter it was meant for).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The file does not start with the snapshot magic: it is not a snapshot.
    BadMagic,
    /// A format version this build does not read.
    UnsupportedVersion {
        /// The file's version.
        found: u16,
        /// The version this build reads.
        supported: u16,
    },
    /// An algorithm id no format version defines.
    UnknownAlgorithm {
        /// The id in the file.
        id: u8,
    },
    /// A header field is malformed (the text says which).
    BadHeader(&'static str),
    /// The header announces more entries than the table has slots.
    TooManyEntries {
        /// Entries announced.
        entries: u64,
        /// Slots in the table.
        slots: u64,
    },
    /// The file is shorter than its header announces.
    Truncated {
        /// The file's length.
        len: u64,
        /// The length the header announces.
        expected: u64,
    },
    /// The file is longer than its header announces.
    TrailingBytes {
        /// The file's length (or the first byte past the announced length).
        len: u64,
        /// The length the header announces.
        expected: u64,
    },
    /// The CRC32C does not match: the file is corrupt.
    BadChecksum {
        /// The checksum in the file.
        stored: u32,
        /// The checksum of the file's contents.
        computed: u32,
    },
    /// This build hashes the probe keys differently under the file's seeds (another
    /// `ahash` version or CPU feature set): its keys would be looked up in the wrong
    /// places.
    FingerprintMismatch,
    /// Entry `index` is malformed.
    BadEntry {
        /// The entry's position in the file (from 0).
        index: u64,
        /// What is wrong with it.
        problem: EntryProblem,
    },
    /// A keyed limiter's file given to a direct limiter, or the reverse.
    KindMismatch {
        /// The file's kind.
        file: SnapshotKind,
    },
    /// The file holds another algorithm's states.
    AlgorithmMismatch {
        /// The file's algorithm.
        file: Algorithm,
        /// The limiter's.
        limiter: Algorithm,
    },
    /// The file's quota differs from the limiter's (limit, period or burst).
    QuotaMismatch {
        /// The file's quota.
        file: Quota,
        /// The limiter's.
        limiter: Quota,
    },
    /// The file's table has another shape (its slot indexes mean other slots).
    CapacityMismatch {
        /// The file's (groups, slots per group).
        file: (u64, u32),
        /// The limiter's.
        limiter: (u64, u32),
    },
    /// The memory to stage the entries could not be allocated.
    OutOfMemory,
}

/// What is wrong with one entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryProblem {
    /// The slot index (the previous one plus the gap) is not in the table.
    SlotOutOfRange,
    /// The tag's marker bit (its top bit) is clear: no key has such a tag.
    BadTag,
    /// A varint is longer than its value needs, or exceeds 64 bits.
    BadVarint,
    /// A state or a time lies past the end of the timeline (2^64 ns).
    StateOverflow,
    /// A sliding-window log with no time or more times than the limit.
    BadLogLength,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadMagic => write!(f, "not a ratecell snapshot (bad magic bytes)"),
            Self::UnsupportedVersion { found, supported } => {
                write!(f, "format version {found} is not supported (this build reads version {supported})")
            }
            Self::UnknownAlgorithm { id } => write!(f, "unknown algorithm id {id}"),
            Self::BadHeader(what) => write!(f, "malformed header: {what}"),
            Self::TooManyEntries { entries, slots } => {
                write!(f, "{entries} entries announced for a table of {slots} slots")
            }
            Self::Truncated { len, expected } => {
                write!(f, "truncated: {len} bytes, the header announces {expected}")
            }
            Self::TrailingBytes { len, expected } => {
                write!(f, "trailing bytes: at least {len} bytes, the header announces {expected}")
            }
            Self::BadChecksum { stored, computed } => write!(
                f,
                "checksum mismatch (stored {stored:#010x}, computed {computed:#010x}): the file is corrupt"
            ),
            Self::FingerprintMismatch => write!(
                f,
                "hash fingerprint mismatch: this build hashes keys differently from the one that \
                 wrote the file (another ahash version or CPU feature set)"
            ),
            Self::BadEntry { index, problem } => {
                let what = match problem {
                    EntryProblem::SlotOutOfRange => "slot index out of range",
                    EntryProblem::BadTag => "a tag without its marker bit",
                    EntryProblem::BadVarint => "a malformed varint",
                    EntryProblem::StateOverflow => "a state past the end of the timeline",
                    EntryProblem::BadLogLength => "a log with no time or more than the limit",
                };
                write!(f, "entry {index}: {what}")
            }
            Self::KindMismatch { file } => write!(
                f,
                "the file holds a {} limiter's state",
                match file {
                    SnapshotKind::Keyed => "keyed",
                    SnapshotKind::Direct => "direct",
                }
            ),
            Self::AlgorithmMismatch { file, limiter } => {
                write!(f, "the file holds {file:?} states; the limiter runs {limiter:?}")
            }
            Self::QuotaMismatch { file, limiter } => {
                write!(f, "the file's quota is {file}; the limiter's is {limiter}")
            }
            Self::CapacityMismatch { file, limiter } => write!(
                f,
                "the file's table has {} groups of {} slots; the limiter's has {} of {} \
                 (build the limiter with the same capacity)",
                file.0, file.1, limiter.0, limiter.1
            ),
            Self::OutOfMemory => write!(f, "cannot allocate the table"),
        }
    }
}

/// Why a snapshot could not be saved or restored. Its message names the file.
#[derive(Debug)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The file system failed.
    Io {
        /// The file (or directory) concerned.
        path: PathBuf,
        /// What was being done: "open", "read", "write", "sync", "rename", ...
        op: &'static str,
        /// The error's kind.
        kind: std::io::ErrorKind,
        /// The error.
        source: std::io::Error,
    },
    /// The file was refused, or this limiter cannot be saved or restored: nothing
    /// was changed.
    Refused {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: Refusal,
    },
}

impl SnapshotError {
    /// The reason a file was refused (`None` for I/O errors).
    pub fn reason(&self) -> Option<Refusal> {
        match self {
            Self::Refused { reason, .. } => Some(*reason),
            Self::Io { .. } => None,
        }
    }

    /// The file concerned.
    pub fn path(&self) -> &Path {
        match self {
            Self::Io { path, .. } | Self::Refused { path, .. } => path,
        }
    }

    pub(crate) fn io(path: &Path, op: &'static str, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            op,
            kind: source.kind(),
            source,
        }
    }

    fn refused(path: &Path, reason: Refusal) -> Self {
        Self::Refused {
            path: path.to_path_buf(),
            reason,
        }
    }
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io {
                path, op, source, ..
            } => {
                write!(f, "snapshot {}: {op} failed: {source}", path.display())
            }
            Self::Refused { path, reason } => write!(f, "snapshot {}: {reason}", path.display()),
        }
    }
}

impl std::error::Error for SnapshotError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Refused { .. } => None,
        }
    }
}

/// A snapshot file read and checked on its own (no limiter): for inspection.
///
/// [`read`](Self::read) makes every check a restore makes that does not depend on
/// a limiter: magic, version, header fields, length, checksum, hash fingerprint,
/// entries.
#[derive(Clone, Debug)]
pub struct SnapshotFile {
    header: SnapshotHeader,
    bytes: Vec<u8>,
}

impl SnapshotFile {
    /// Reads and checks the file at `path`.
    pub fn read(path: impl AsRef<Path>) -> Result<Self, SnapshotError> {
        let path = path.as_ref();
        let bytes = io::read(path, |_| Ok(()))?;
        Self::from_bytes(bytes).map_err(|r| SnapshotError::refused(path, r))
    }

    /// Checks a file's contents.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, Refusal> {
        let header = format::decode(&bytes)?.header;
        Ok(Self { header, bytes })
    }

    /// The header.
    pub fn header(&self) -> &SnapshotHeader {
        &self.header
    }

    /// The entries, in slot order.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = SnapshotEntry<'_>> + '_ {
        let body = &self.bytes[HEADER_LEN..self.bytes.len() - format::CRC_LEN];
        format::entries_in(&self.header, body)
    }

    /// How many entries would be restored at `now`, and how many dropped as
    /// expired.
    pub fn live_at(&self, now: Nanos) -> (u64, u64) {
        let Ok(p) = Params::new(self.header.algorithm, &self.header.quota) else {
            return (0, self.header.entry_count);
        };
        let mut times = Vec::new();
        let live = self
            .entries()
            .filter(|e| {
                if p.algorithm == Algorithm::SlidingWindowLog {
                    // Judged by its times, exactly as a restore does (the state word's
                    // expiry saturates at the end of the timeline; the times do not).
                    judge_log(&p, e.log, now, &mut times);
                    !times.is_empty()
                } else {
                    matches!(clamp::judge(&p, e.state, now), Restored::Live { .. })
                }
            })
            .count() as u64;
        (live, self.header.entry_count - live)
    }

    /// The file encoded again from its decoded fields (equal to the bytes read:
    /// the format has one encoding per content).
    pub fn to_bytes(&self) -> Vec<u8> {
        format::encode(&self.header, self.entries())
    }
}

fn same_quota(a: &Quota, b: &Quota) -> bool {
    // The explicit-burst flag is informational: "10/s" and "10/s burst 10" are
    // the same limit.
    a.limit() == b.limit() && a.period_nanos() == b.period_nanos() && a.burst() == b.burst()
}

/// The checks a file's header must pass against the limiter it is restored into.
fn check_against(
    h: &SnapshotHeader,
    kind: SnapshotKind,
    p: &Params,
    quota: &Quota,
) -> Result<(), Refusal> {
    if h.kind != kind {
        return Err(Refusal::KindMismatch { file: h.kind });
    }
    if h.algorithm != p.algorithm {
        return Err(Refusal::AlgorithmMismatch {
            file: h.algorithm,
            limiter: p.algorithm,
        });
    }
    if !same_quota(&h.quota, quota) {
        return Err(Refusal::QuotaMismatch {
            file: h.quota,
            limiter: *quota,
        });
    }
    Ok(())
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
/// whether any time was clamped; `times` empty means expired.
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
    clamped
}

impl<C: Clock> Limiter<C, MemoryStore<C>> {
    /// Saves every live key's state to `path`, atomically (the format is in the
    /// repository's `FORMAT.md`): the file at `path` is either the previous one or
    /// the new one, whole, with mode 0600 (it holds the hash seeds).
    ///
    /// Other threads may keep checking meanwhile; each saved entry is a state the
    /// key had at some moment during the save.
    ///
    /// # Errors
    ///
    /// [`SnapshotError::Io`] if the file system fails: the previous file, if any,
    /// is intact and no temporary file is left, except after a failure of the
    /// final directory sync (`op` "sync directory"), when the new file is already
    /// in place but its name may not survive a crash.
    pub fn snapshot_to(&self, path: impl AsRef<Path>) -> Result<SnapshotInfo, SnapshotError> {
        let path = path.as_ref();
        let now = self.clock.now();
        format::saved_in_timeline(now).map_err(|r| SnapshotError::refused(path, r))?;
        io::write_atomic_streamed(path, |sink| {
            save::stream_table(
                self.store.table(),
                self.store.logs(),
                &self.params,
                self.quota,
                now,
                sink,
            )
        })
    }

    /// Replaces every key's state with the snapshot at `path`.
    ///
    /// The whole file is checked first (magic, version, lengths against the file's
    /// size, checksum, hash fingerprint, entries; then kind, algorithm, quota and
    /// table shape against this limiter); on any error the limiter is unchanged.
    /// Then the table is emptied, adopts the **file's** hash seeds (so its keys are
    /// found where they were saved) and the entries are installed. The file's
    /// contents replace the limiter's: keys the limiter held
    /// that the file does not are forgotten. Entries that expired since the save are
    /// dropped; states further ahead of the clock than the algorithm allows are
    /// clamped. Statistics and capacity are kept.
    ///
    /// Restoring is meant for startup, before the limiter serves. It may run while other threads
    /// check, but those checks are not ordered with it: one may see its key in the
    /// old state, the new one or absent, and a key checked (and so inserted) during
    /// the restore can end up with its state split between two slots until one
    /// expires.
    ///
    /// # Errors
    ///
    /// [`SnapshotError::Io`] if the file cannot be read, `Refused` with the
    /// [`Refusal`] if it cannot be restored into this limiter.
    pub fn restore_from(&self, path: impl AsRef<Path>) -> Result<SnapshotInfo, SnapshotError> {
        let path = path.as_ref();
        let refused = |r| SnapshotError::refused(path, r);
        let slots = self.store.table().slot_count() as u64;
        let bytes = io::read(path, |h| {
            if h.entry_count > slots {
                // Larger than any file for this limiter: say why without reading it.
                self.check_header(h)?;
                return Err(Refusal::TooManyEntries {
                    entries: h.entry_count,
                    slots: self.store.table().slot_count() as u64,
                });
            }
            Ok(())
        })?;
        self.restore_bytes(&bytes).map_err(refused)
    }

    fn shape(&self) -> (u64, u32) {
        (self.store.table().group_count() as u64, GROUP_SLOTS as u32)
    }

    fn check_header(&self, h: &SnapshotHeader) -> Result<(), Refusal> {
        check_against(h, SnapshotKind::Keyed, &self.params, &self.quota)?;
        if (h.group_count, h.slots_per_group) != self.shape() {
            return Err(Refusal::CapacityMismatch {
                file: (h.group_count, h.slots_per_group),
                limiter: self.shape(),
            });
        }
        Ok(())
    }

    /// The file's bytes for the current state.
    pub(crate) fn snapshot_bytes(&self) -> Result<(Vec<u8>, SnapshotInfo), Refusal> {
        let now = self.clock.now();
        format::saved_in_timeline(now)?;
        let estimate = self.store.capacity();
        Ok(save::encode_table(
            self.store.table(),
            self.store.logs(),
            &self.params,
            self.quota,
            now,
            estimate,
        ))
    }

    /// Restores from a file's bytes; on error, changes nothing.
    pub(crate) fn restore_bytes(&self, bytes: &[u8]) -> Result<SnapshotInfo, Refusal> {
        let view = format::decode(bytes)?;
        let h = view.header;
        self.check_header(&h)?;
        // Nothing can fail from here on: `decode` checked every entry, and
        // `check_header` that the file's slots are this table's.
        let now = self.clock.now();
        let mut info = SnapshotInfo {
            entries: h.entry_count,
            bytes: bytes.len() as u64,
            saved_at: h.saved_at,
            ..SnapshotInfo::default()
        };
        let p = &self.params;
        let table = self.store.table();
        table.set_seeds(h.seeds);
        let Some(logs) = self.store.logs() else {
            let live = view.word_entries().filter_map(|(slot, tag, state)| {
                match clamp::judge(p, state, now) {
                    Restored::Expired => {
                        info.expired += 1;
                        None
                    }
                    Restored::Live { state, clamped } => {
                        info.restored += 1;
                        info.clamped += u64::from(clamped);
                        Some((slot as usize, tag, state, ()))
                    }
                }
            });
            table.replace_all(live, |_, _| {});
            return Ok(info);
        };
        let mut times = Vec::new();
        let live = view.entries().filter_map(|e| {
            let clamped = judge_log(p, e.log, now, &mut times);
            let Some(&newest) = times.last() else {
                info.expired += 1;
                return None;
            };
            info.restored += 1;
            info.clamped += u64::from(clamped);
            Some((e.slot as usize, e.tag, newest + 1, e.log))
        });
        // A restored key's log is written before its slot is published; every other
        // slot's log is emptied and disowned.
        let mut log_times = Vec::new();
        table.replace_all(live, |idx, installed| match installed {
            Some((slot, log)) => {
                judge_log(p, log, now, &mut log_times);
                logs.at(idx).install(&log_times, slot.owner_stamp());
            }
            None => logs.at(idx).install(&[], 0),
        });
        Ok(info)
    }
}

impl<C: Clock> DirectLimiter<C> {
    /// Saves the limiter's state to `path`, atomically; see
    /// [`Limiter::snapshot_to`]. The file holds at most one entry.
    ///
    /// # Errors
    ///
    /// As [`Limiter::snapshot_to`].
    pub fn snapshot_to(&self, path: impl AsRef<Path>) -> Result<SnapshotInfo, SnapshotError> {
        save_to(path.as_ref(), self.snapshot_bytes())
    }

    /// Replaces the limiter's state with the snapshot at `path`; see
    /// [`Limiter::restore_from`]. A file with no entry (or an expired one) leaves
    /// the full quota available.
    ///
    /// # Errors
    ///
    /// As [`Limiter::restore_from`]; on any error the limiter is unchanged.
    pub fn restore_from(&self, path: impl AsRef<Path>) -> Result<SnapshotInfo, SnapshotError> {
        let path = path.as_ref();
        // Another kind of file, or a foreign one, is refused before the rest is read.
        let bytes = io::read(path, |h| {
            check_against(h, SnapshotKind::Direct, &self.params, &self.quota)
        })?;
        self.restore_bytes(&bytes)
            .map_err(|r| SnapshotError::refused(path, r))
    }

    pub(crate) fn snapshot_bytes(&self) -> Result<(Vec<u8>, SnapshotInfo), Refusal> {
        let now = self.clock.now();
        format::saved_in_timeline(now)?;
        let mut header = SnapshotHeader {
            version: VERSION,
            kind: SnapshotKind::Direct,
            algorithm: self.params.algorithm,
            quota: self.quota,
            slots_per_group: 0,
            group_count: 0,
            seeds: [0; 4],
            fingerprint: [0; 4],
            saved_at: now,
            entry_count: 0,
        };
        let codec = format::EntryCodec::new(&header);
        let mut entry = Vec::new();
        let had_state = match &self.cell {
            DirectCell::Word(cell) => {
                let state = cell.load();
                if state != 0 && self.params.word_expires_at(state) > now {
                    codec.put_word(&mut entry, 0, 0, 0, state);
                }
                state != 0
            }
            DirectCell::Log(cell) => {
                let mut times = Vec::new();
                cell.log().live_times(0, 0, &mut times);
                let had = !times.is_empty();
                let floor = format::log_floor(&self.params, now);
                times.retain(|&t| t >= floor);
                if !times.is_empty() {
                    codec.put_log(&mut entry, 0, 0, 0, &times);
                }
                had
            }
        };
        header.entry_count = u64::from(!entry.is_empty());
        let mut bytes = Vec::with_capacity(HEADER_LEN + entry.len() + format::CRC_LEN);
        header.write(&mut bytes);
        bytes.extend_from_slice(&entry);
        format::seal(&mut bytes);
        let info = SnapshotInfo {
            entries: header.entry_count,
            expired: u64::from(had_state && entry.is_empty()),
            bytes: bytes.len() as u64,
            saved_at: now,
            ..SnapshotInfo::default()
        };
        Ok((bytes, info))
    }

    pub(crate) fn restore_bytes(&self, bytes: &[u8]) -> Result<SnapshotInfo, Refusal> {
        let view = format::decode(bytes)?;
        let h = view.header;
        check_against(&h, SnapshotKind::Direct, &self.params, &self.quota)?;
        let now = self.clock.now();
        let mut info = SnapshotInfo {
            entries: h.entry_count,
            bytes: bytes.len() as u64,
            saved_at: h.saved_at,
            ..SnapshotInfo::default()
        };
        let (mut state, mut times) = (0, Vec::new());
        for e in view.entries() {
            let clamped = match &self.cell {
                DirectCell::Word(_) => match clamp::judge(&self.params, e.state, now) {
                    Restored::Expired => None,
                    Restored::Live { state: s, clamped } => {
                        state = s;
                        Some(clamped)
                    }
                },
                DirectCell::Log(_) => {
                    let clamped = judge_log(&self.params, e.log, now, &mut times);
                    (!times.is_empty()).then_some(clamped)
                }
            };
            match clamped {
                None => info.expired += 1,
                Some(c) => {
                    info.restored += 1;
                    info.clamped += u64::from(c);
                }
            }
        }
        match &self.cell {
            DirectCell::Word(cell) => cell.store(state),
            DirectCell::Log(cell) => cell.log().install(&times, 0),
        }
        Ok(info)
    }
}
