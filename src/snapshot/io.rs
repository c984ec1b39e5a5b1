//! File I/O: atomic replacement on save, bounded reads on restore.

use super::format::{SnapshotHeader, HEADER_LEN};
use super::{Refusal, SnapshotError};
use crate::sync::{AtomicU64, Ordering};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;

/// Distinguishes the temporary files of saves running at once in one process.
static TEMP_SEQ: AtomicU64 = AtomicU64::new(0);

#[cfg(test)]
std::thread_local! {
    /// Makes this thread's next save fail after the temporary file is written and
    /// synced, before the rename (tests of "a failed save leaves the old file").
    pub(crate) static FAIL_BEFORE_RENAME: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
}

fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Writes `bytes` to `path` so that `path` is at every moment either its old
/// contents or all of `bytes`: a temporary file in the same directory (a rename
/// is atomic only within one file system), synced before the rename (else a crash
/// could leave the new name on unwritten blocks), then the directory synced (else
/// the rename itself may not survive a crash). Mode 0600 from creation: the file
/// holds the hash seeds, which must stay secret to keep crafted-collision attacks
/// out.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SnapshotError> {
    let dir = dir_of(path);
    let Some(name) = path.file_name() else {
        let e = std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path names no file");
        return Err(SnapshotError::io(path, "name", e));
    };
    // Relaxed: only uniqueness matters, which fetch_add gives at any ordering.
    let seq = TEMP_SEQ.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(
        ".{}.{}-{seq}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = write_new(&tmp, bytes).and_then(|()| {
        #[cfg(test)]
        if FAIL_BEFORE_RENAME.with(|f| f.replace(false)) {
            let e = std::io::Error::other("injected failure");
            return Err(SnapshotError::io(path, "rename", e));
        }
        fs::rename(&tmp, path).map_err(|e| SnapshotError::io(path, "rename", e))
    });
    if result.is_err() {
        // Best effort: the error being reported is the one that matters.
        let _ = fs::remove_file(&tmp);
        return result;
    }
    sync_dir(dir)
}

fn write_new(tmp: &Path, bytes: &[u8]) -> Result<(), SnapshotError> {
    let mut opts = OpenOptions::new();
    // create_new: never write through a file (or a link) someone left at that name.
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(tmp)
        .map_err(|e| SnapshotError::io(tmp, "create", e))?;
    f.write_all(bytes)
        .map_err(|e| SnapshotError::io(tmp, "write", e))?;
    f.sync_all().map_err(|e| SnapshotError::io(tmp, "sync", e))
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), SnapshotError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| SnapshotError::io(dir, "sync directory", e))
}

#[cfg(not(unix))]
fn sync_dir(_: &Path) -> Result<(), SnapshotError> {
    // Directories cannot be opened for syncing here; the rename is what there is.
    Ok(())
}

/// Reads a snapshot file: its header, which `admit` may refuse (a restore refuses
/// a file too large for its table without reading it), then the rest. The length
/// the header announces is checked against the file's size before anything else is
/// allocated, and at most one byte past it is read.
pub(crate) fn read(
    path: &Path,
    admit: impl FnOnce(&SnapshotHeader) -> Result<(), Refusal>,
) -> Result<Vec<u8>, SnapshotError> {
    let refused = |reason| SnapshotError::Refused {
        path: path.to_path_buf(),
        reason,
    };
    let mut f = File::open(path).map_err(|e| SnapshotError::io(path, "open", e))?;
    let mut bytes = Vec::with_capacity(HEADER_LEN);
    (&mut f)
        .take(HEADER_LEN as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| SnapshotError::io(path, "read", e))?;
    let header = SnapshotHeader::parse(&bytes).map_err(refused)?;
    admit(&header).map_err(refused)?;
    let want = header.file_len();
    let meta = f
        .metadata()
        .map_err(|e| SnapshotError::io(path, "stat", e))?;
    if meta.is_file() {
        let len = meta.len();
        if len < want {
            return Err(refused(Refusal::Truncated {
                len,
                expected: want,
            }));
        }
        if len > want {
            return Err(refused(Refusal::TrailingBytes {
                len,
                expected: want,
            }));
        }
    }
    // `want` is the regular file's size here; one byte more detects a file that
    // grew since. Anything else (a pipe) has no size to check: grow as it comes.
    let rest = want - HEADER_LEN as u64 + 1;
    let reserve = if meta.is_file() {
        rest
    } else {
        rest.min(1 << 20)
    };
    bytes
        .try_reserve_exact(usize::try_from(reserve).unwrap_or(usize::MAX))
        .map_err(|_| refused(Refusal::OutOfMemory))?;
    f.take(rest)
        .read_to_end(&mut bytes)
        .map_err(|e| SnapshotError::io(path, "read", e))?;
    Ok(bytes)
}
