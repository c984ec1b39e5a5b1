//! Why a snapshot was refused, and the errors of saving and restoring.

use super::*;

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
    BadHeader(HeaderProblem),
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
    /// No longer produced: a restore reinterprets a file saved under another
    /// quota (see [`Limiter::restore_from`](crate::Limiter::restore_from)). Kept
    /// so that code matching on it still compiles.
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
        /// What was being done.
        op: FileOp,
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

    pub(crate) fn io(path: &Path, op: FileOp, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            op,
            kind: source.kind(),
            source,
        }
    }

    pub(super) fn refused(path: &Path, reason: Refusal) -> Self {
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

/// What is wrong with a snapshot header whose fields are each readable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HeaderProblem {
    /// Flag bits this version does not define are set.
    ReservedFlags,
    /// The burst differs from the limit, but the explicit-burst flag is not set.
    BurstWithoutFlag,
    /// The limit, period and burst make no valid quota.
    InvalidQuota,
    /// The quota is valid, but not for the file's algorithm.
    QuotaUnfitForAlgorithm,
    /// A keyed file's table has no slots.
    NoSlots,
    /// A direct limiter's file has table fields that are not zero.
    DirectTableFields,
    /// The file was saved at a clock reading past the end of the timeline (2^63 ns).
    SavedPastTimeline,
}

impl fmt::Display for HeaderProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ReservedFlags => "reserved flag bits are set",
            Self::BurstWithoutFlag => {
                "burst differs from the limit without the explicit-burst flag"
            }
            Self::InvalidQuota => "the quota is invalid",
            Self::QuotaUnfitForAlgorithm => "the quota is invalid for the algorithm",
            Self::NoSlots => "a keyed table has no slots",
            Self::DirectTableFields => "a direct limiter's table fields are not zero",
            Self::SavedPastTimeline => {
                "saved at a clock reading past the end of the timeline (2^63 ns)"
            }
        })
    }
}

/// The file-system operation a snapshot was doing when it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileOp {
    /// Opening the file to read it.
    Open,
    /// Reading the file.
    Read,
    /// Reading the file's size.
    Stat,
    /// Creating the temporary file.
    Create,
    /// Writing the temporary file.
    Write,
    /// Syncing the temporary file.
    Sync,
    /// Syncing the directory after the rename.
    SyncDirectory,
    /// Renaming the temporary file over the target.
    Rename,
    /// Working out the file's name and directory.
    Name,
    /// Starting a thread of the streamed save.
    Spawn,
}

impl fmt::Display for FileOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Open => "open",
            Self::Read => "read",
            Self::Stat => "stat",
            Self::Create => "create",
            Self::Write => "write",
            Self::Sync => "sync",
            Self::SyncDirectory => "sync directory",
            Self::Rename => "rename",
            Self::Name => "name",
            Self::Spawn => "spawn",
        })
    }
}
