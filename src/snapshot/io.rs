//! File I/O: atomic replacement on save, bounded reads on restore.

use super::error::FileOp;
use super::format::{SnapshotHeader, HEADER_LEN};
use super::save::{Ending, Sink};
use super::{Refusal, SnapshotError};
use crate::sync::{AtomicU64, Ordering};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

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
    let tmp = temp_path(path)?;
    let result = create(&tmp).and_then(|mut f| {
        f.write_all(bytes)
            .map_err(|e| SnapshotError::io(&tmp, FileOp::Write, e))?;
        f.sync_all()
            .map_err(|e| SnapshotError::io(&tmp, FileOp::Sync, e))
    });
    let ((), old) = finish(path, &tmp, result)?;
    // The replaced file goes whether or not the directory syncs: the new one is
    // in place either way.
    let synced = sync_dir(dir_of(path));
    release_later(old);
    synced
}

/// A temporary name beside `path` (a rename is atomic only within one file
/// system), unique among the saves running in this process.
fn temp_path(path: &Path) -> Result<PathBuf, SnapshotError> {
    let dir = dir_of(path);
    let Some(name) = path.file_name() else {
        let e = std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path names no file");
        return Err(SnapshotError::io(path, FileOp::Name, e));
    };
    // Relaxed: only uniqueness matters, which fetch_add gives at any ordering.
    let seq = TEMP_SEQ.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(
        ".{}.{}-{seq}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    Ok(tmp)
}

/// Renames the written temporary file over `path`, or removes it if anything
/// failed. Returns a second name of the file replaced, if there was one: see
/// [`release_later`].
fn finish<R>(
    path: &Path,
    tmp: &Path,
    result: Result<R, SnapshotError>,
) -> Result<(R, Option<PathBuf>), SnapshotError> {
    let result = result.and_then(|r| {
        #[cfg(test)]
        if FAIL_BEFORE_RENAME.with(|f| f.replace(false)) {
            let e = std::io::Error::other("injected failure");
            return Err(SnapshotError::io(path, FileOp::Rename, e));
        }
        // A second link to the file being replaced, so that the rename only drops
        // a link instead of freeing the old file's blocks (on ext4, ~1 ms per MB,
        // inside the rename). Best effort: without it the rename frees them.
        let old = old_link(path, tmp);
        if let Err(e) = fs::rename(tmp, path) {
            if let Some(old) = &old {
                let _ = fs::remove_file(old);
            }
            return Err(SnapshotError::io(path, FileOp::Rename, e));
        }
        Ok((r, old))
    });
    if result.is_err() {
        // Best effort: the error being reported is the one that matters.
        let _ = fs::remove_file(tmp);
    }
    result
}

/// Links the file at `path` (if any) under the temporary name with `.old` for
/// `.tmp`.
fn old_link(path: &Path, tmp: &Path) -> Option<PathBuf> {
    let old = tmp.with_extension("old");
    fs::hard_link(path, &old).ok().map(|()| old)
}

/// Files at least this large are released on a background thread.
const RELEASE_IN_BACKGROUND: u64 = 4 << 20;

/// Removes the replaced file's last link. A large one on a background thread:
/// the save is complete and durable without it, and freeing a large file's
/// blocks is slow (on ext4 about a millisecond per megabyte). Until that is done
/// the directory also holds the old file under the temporary name with `.old`.
fn release_later(old: Option<PathBuf>) {
    let Some(old) = old else { return };
    let large = fs::metadata(&old).is_ok_and(|m| m.len() >= RELEASE_IN_BACKGROUND);
    let remove = move || {
        // Best effort: a leftover `.old` file is garbage, not damage.
        let _ = fs::remove_file(&old);
    };
    if large {
        let spawned = std::thread::Builder::new()
            .name("ratecell-snapshot-release".into())
            .spawn(remove.clone());
        if spawned.is_ok() {
            return;
        }
    }
    remove();
}

/// Bytes written between two background syncs of a streamed file.
const SYNC_EVERY: u64 = 4 << 20;

/// As [`write_atomic`], for a file produced while it is written: `produce` puts
/// the entries into a [`Sink`] that writes them to the temporary file, and every
/// couple of megabytes a second thread syncs what is there, so the disk works
/// while `produce` encodes the rest (left to itself, the kernel would start
/// writing only at the final sync, after the encoding). The file starts with a
/// `HEADER_LEN` placeholder that the [`Ending`] fills in.
pub(crate) fn write_atomic_streamed<R>(
    path: &Path,
    produce: impl FnOnce(&mut dyn Sink) -> std::io::Result<(Ending, R)>,
) -> Result<R, SnapshotError> {
    let tmp = temp_path(path)?;
    let result = create(&tmp).and_then(|f| {
        let (ending, r) =
            stream_into(&f, produce).map_err(|(op, e)| SnapshotError::io(&tmp, op, e))?;
        let io = |e| SnapshotError::io(&tmp, FileOp::Write, e);
        match ending {
            Ending::Patch { header, crc } => {
                write_at(&f, &header, 0).map_err(io)?;
                (&f).write_all(&crc).map_err(io)?;
            }
            Ending::Rewrite(bytes) => {
                f.set_len(0)
                    .and_then(|()| write_at(&f, &bytes, 0))
                    .map_err(io)?;
            }
        }
        f.sync_all()
            .map_err(|e| SnapshotError::io(&tmp, FileOp::Sync, e))?;
        Ok(r)
    });
    let (r, old) = finish(path, &tmp, result)?;
    // As in `write_atomic`.
    let synced = sync_dir(dir_of(path));
    release_later(old);
    synced.map(|()| r)
}

/// Buffers in flight between the encoder and the writer: one being filled, one
/// being written, the rest queued (the writer may stall while the disk syncs).
const BUFFERS: usize = 10;

/// A file sink: a writer thread takes the chunks (the encoder goes on with a
/// recycled buffer meanwhile), and a syncing thread syncs what was written every
/// couple of megabytes.
struct FileSink<'scope, 'a> {
    file: &'a File,
    written: u64,
    to_writer: Option<mpsc::SyncSender<(Vec<u8>, usize)>>,
    recycled: mpsc::Receiver<Vec<u8>>,
    writer: Option<std::thread::ScopedJoinHandle<'scope, WriteResult>>,
    buffers: usize,
}

type WriteResult = Result<(), (FileOp, std::io::Error)>;

impl FileSink<'_, '_> {
    /// Waits for the writer to write everything put so far.
    fn finish(&mut self) -> WriteResult {
        drop(self.to_writer.take());
        match self.writer.take().map(|w| w.join()) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(e),
            Some(Err(_)) => Err((
                FileOp::Write,
                std::io::Error::other("the writer thread panicked"),
            )),
        }
    }

    fn failed(&mut self) -> std::io::Error {
        match self.finish() {
            Err((_, e)) => e,
            Ok(()) => std::io::Error::other("the writer thread stopped"),
        }
    }
}

impl Sink for FileSink<'_, '_> {
    fn put(&mut self, chunk: Vec<u8>, from: usize) -> std::io::Result<Vec<u8>> {
        let capacity = chunk.capacity();
        self.written += (chunk.len() - from) as u64;
        let sent = self.to_writer.as_ref().map(|tx| tx.send((chunk, from)));
        if !matches!(sent, Some(Ok(()))) {
            // The writer hung up: it failed, and says why.
            return Err(self.failed());
        }
        if let Ok(buf) = self.recycled.try_recv() {
            return Ok(buf);
        }
        if self.buffers < BUFFERS {
            self.buffers += 1;
            return Ok(Vec::with_capacity(capacity));
        }
        self.recycled.recv().map_err(|_| self.failed())
    }

    fn all_put(&mut self) {
        // The writer writes what is queued, has it synced, and stops.
        drop(self.to_writer.take());
    }

    fn body(&mut self) -> std::io::Result<Vec<u8>> {
        self.finish().map_err(|(_, e)| e)?;
        let mut body = vec![0; usize::try_from(self.written).unwrap_or(usize::MAX)];
        read_at(self.file, &mut body, HEADER_LEN as u64)?;
        Ok(body)
    }
}

/// Runs `produce` on a [`FileSink`] over `f` (after a header placeholder), with
/// the writing and syncing threads beside it.
fn stream_into<R>(
    f: &File,
    produce: impl FnOnce(&mut dyn Sink) -> std::io::Result<(Ending, R)>,
) -> StreamResult<R> {
    (&*f)
        .write_all(&[0; HEADER_LEN])
        .map_err(|e| (FileOp::Write, e))?;
    let (to_writer, chunks) = mpsc::sync_channel::<(Vec<u8>, usize)>(8);
    let (to_encoder, recycled) = mpsc::channel::<Vec<u8>>();
    let (to_syncer, sync_requests) = mpsc::channel::<()>();
    std::thread::scope(|scope| {
        // Threads that cannot be had fail the save (an I/O error), not the process.
        let thread =
            |name: &str| std::thread::Builder::new().name(format!("ratecell-snapshot-{name}"));
        let syncer = thread("sync").spawn_scoped(scope, move || -> std::io::Result<()> {
            while sync_requests.recv().is_ok() {
                // Requests that piled up while syncing are covered by one sync.
                while sync_requests.try_recv().is_ok() {}
                f.sync_data()?;
            }
            Ok(())
        });
        let syncer = syncer.map_err(|e| (FileOp::Spawn, e))?;
        let writer = thread("write").spawn_scoped(scope, move || -> WriteResult {
            let mut unsynced = 0;
            for (mut chunk, from) in chunks {
                (&*f)
                    .write_all(&chunk[from..])
                    .map_err(|e| (FileOp::Write, e))?;
                unsynced += (chunk.len() - from) as u64;
                if unsynced >= SYNC_EVERY {
                    unsynced = 0;
                    // A syncer that failed has hung up: its error is reported below.
                    let _ = to_syncer.send(());
                }
                chunk.clear();
                // The encoder may be done and gone: nothing to recycle for.
                let _ = to_encoder.send(chunk);
            }
            if unsynced > 0 {
                // The tail, synced while the encoder finishes its checks: the final
                // sync then has little left but the header.
                let _ = to_syncer.send(());
            }
            Ok(())
        });
        let writer = writer.map_err(|e| (FileOp::Spawn, e))?;
        let mut sink = FileSink {
            file: f,
            written: 0,
            to_writer: Some(to_writer),
            recycled,
            writer: Some(writer),
            buffers: 1,
        };
        let out = produce(&mut sink);
        let written = sink.finish();
        let synced = syncer
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the syncing thread panicked")));
        written?;
        let out = out.map_err(|e| (FileOp::Write, e))?;
        synced.map_err(|e| (FileOp::Sync, e))?;
        Ok(out)
    })
}

type StreamResult<R> = Result<(Ending, R), (FileOp, std::io::Error)>;

#[cfg(unix)]
fn read_at(f: &File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(f, buf, at)
}

#[cfg(not(unix))]
fn read_at(mut f: &File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom};
    let end = f.seek(SeekFrom::End(0))?;
    f.seek(SeekFrom::Start(at))?;
    f.read_exact(buf)?;
    f.seek(SeekFrom::Start(end))?;
    Ok(())
}

#[cfg(unix)]
fn write_at(f: &File, bytes: &[u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(f, bytes, at)
}

#[cfg(not(unix))]
fn write_at(mut f: &File, bytes: &[u8], at: u64) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom};
    let end = f.seek(SeekFrom::End(0))?;
    f.seek(SeekFrom::Start(at))?;
    f.write_all(bytes)?;
    f.seek(SeekFrom::Start(end.max(at + bytes.len() as u64)))?;
    Ok(())
}

/// Creates the temporary file: `create_new`, so that nothing (or no link) someone
/// left at that name is written through; mode 0600 from creation, since the file
/// holds the hash seeds, which must stay secret to keep crafted collisions out.
fn create(tmp: &Path) -> Result<File, SnapshotError> {
    let mut opts = OpenOptions::new();
    // Readable too: a save reads its entries back in the rare case of a key that
    // moved during the scan.
    opts.read(true).write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(tmp)
        .map_err(|e| SnapshotError::io(tmp, FileOp::Create, e))
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), SnapshotError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| SnapshotError::io(dir, FileOp::SyncDirectory, e))
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
    let mut f = File::open(path).map_err(|e| SnapshotError::io(path, FileOp::Open, e))?;
    let mut bytes = Vec::with_capacity(HEADER_LEN);
    (&mut f)
        .take(HEADER_LEN as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| SnapshotError::io(path, FileOp::Read, e))?;
    let header = SnapshotHeader::parse(&bytes).map_err(refused)?;
    admit(&header).map_err(refused)?;
    // Entries are variable-length: the header bounds the file's length.
    let (min, max) = header.file_len_bounds();
    let meta = f
        .metadata()
        .map_err(|e| SnapshotError::io(path, FileOp::Stat, e))?;
    let mut want = max;
    if meta.is_file() {
        let len = meta.len();
        if len < min {
            return Err(refused(Refusal::Truncated { len, expected: min }));
        }
        if len > max {
            return Err(refused(Refusal::TrailingBytes { len, expected: max }));
        }
        want = len;
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
        .map_err(|e| SnapshotError::io(path, FileOp::Read, e))?;
    Ok(bytes)
}
