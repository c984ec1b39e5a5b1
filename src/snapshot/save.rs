//! Saving a keyed table: one pass that encodes every live confirmed slot, and a
//! second that proves no key was saved twice (or removes the copies).
//!
//! The save runs while other threads check, so a key can move while the scan
//! runs: reset (or evicted) after the scan read its slot, then back in a slot the
//! scan has yet to read. Restoring both would put one key in two slots, which the
//! table must never hold. The second pass re-reads each saved slot: see
//! [`moved_slots`] for why that finds every such key.

use super::format::{self, EntryCodec, SnapshotHeader, SnapshotKind, HEADER_LEN, VERSION};
use super::SnapshotInfo;
use crate::algorithm::{rebase, Params};
use crate::cell::LogArena;
use crate::clock::Nanos;
use crate::quota::Quota;
use crate::table::slot::{Slot, TAG_BITS};
use crate::table::{Table, GROUP_SLOTS};
use std::sync::mpsc;

/// Bits of the slot's meta word below the tag (version and pending bit): kept
/// per saved entry (one byte) so that the second pass can tell whether the slot
/// changed owner.
const LOW_BITS: u32 = 64 - TAG_BITS;
const _: () = assert!(LOW_BITS <= 8);

cfg_fuzzing! {
    /// Bytes to reserve per key: a typical entry is 1 (slot gap) + 7 (tag) + 4 to 6
    /// (state) bytes.
    const TYPICAL_ENTRY_LEN: usize = 14;
}

#[cfg(test)]
type ScanHook = Box<dyn FnMut(&Table, usize)>;

#[cfg(test)]
std::thread_local! {
    /// Runs after each saved slot is read (tests move keys in the middle of a scan).
    pub(crate) static SCAN_HOOK: core::cell::RefCell<Option<ScanHook>> = const { core::cell::RefCell::new(None) };
}

/// Where a streamed file's entries go, chunk by chunk, after a `HEADER_LEN`
/// placeholder.
pub(crate) trait Sink {
    /// Appends `chunk[from..]` (whole entries); returns an empty buffer to fill
    /// next (the same one, or one the sink is done with).
    fn put(&mut self, chunk: Vec<u8>, from: usize) -> std::io::Result<Vec<u8>>;
    /// Every entry byte put so far (the rare rewrite after a key moved mid-scan).
    fn body(&mut self) -> std::io::Result<Vec<u8>>;
    /// No more entries will come (before the second pass, which may still ask for
    /// the `body`).
    fn all_put(&mut self) {}
}

/// A sink that keeps the file in memory (after the placeholder).
impl Sink for Vec<u8> {
    fn put(&mut self, mut chunk: Vec<u8>, from: usize) -> std::io::Result<Vec<u8>> {
        self.extend_from_slice(&chunk[from..]);
        chunk.clear();
        Ok(chunk)
    }

    fn body(&mut self) -> std::io::Result<Vec<u8>> {
        Ok(self[HEADER_LEN.min(self.len())..].to_vec())
    }
}

/// How a streamed file ends.
pub(crate) enum Ending {
    /// The entries stand: write this header over the placeholder at the start
    /// (its entry count is known only now) and append the checksum.
    Patch {
        header: Vec<u8>,
        crc: [u8; format::CRC_LEN],
    },
    /// A key was saved twice (it moved during the scan): the whole file, again.
    Rewrite(Vec<u8>),
}

cfg_fuzzing! {
    /// The snapshot file of `table` (and its per-slot `logs`, for the sliding-window
    /// log) at `now`, as one buffer. `estimate`: how many keys to make room for.
    pub(crate) fn encode_table(
        table: &Table,
        logs: Option<&LogArena>,
        p: &Params,
        quota: Quota,
        now: Nanos,
        estimate: usize,
    ) -> (Vec<u8>, SnapshotInfo) {
        let mut file = Vec::with_capacity(HEADER_LEN + estimate * TYPICAL_ENTRY_LEN);
        file.resize(HEADER_LEN, 0);
        // A `Vec` sink never fails.
        let result = stream_table(table, logs, p, quota, now, &mut file);
        let Ok((ending, info)) = result else {
            return (Vec::new(), SnapshotInfo::default());
        };
        let bytes = match ending {
            Ending::Rewrite(bytes) => bytes,
            Ending::Patch { header, crc } => {
                file[..HEADER_LEN].copy_from_slice(&header);
                file.extend_from_slice(&crc);
                file
            }
        };
        (bytes, info)
    }
}

/// Tables of at least this many slots are scanned by two threads (when the
/// machine has two cores).
const PARALLEL_SLOTS: usize = 1 << 16;

/// Slots per block: the scan encodes blocks independently (each block's first
/// entry counts its slot gap from the block's start), so that two threads can
/// encode alternate blocks while the file is written in order.
const BLOCK_SLOTS: usize = 1 << 14;

/// Room kept in front of a block's bytes to re-encode its first slot gap (a
/// varint is at most ten bytes, and never shorter than the one it replaces).
const GAP_ROOM: usize = 10;

/// What the scan of one slot range produced.
struct Scanned {
    saved: u64,
    expired: u64,
    /// One past the last saved slot (the range's start if none).
    next_slot: u64,
}

/// A block's encoded entries, waiting to be stitched into the file.
struct Block {
    /// `GAP_ROOM` bytes, then the entries.
    out: Vec<u8>,
    start: usize,
    scanned: Scanned,
}

/// Appends blocks to the file in order, re-encoding each one's first gap.
struct Stitch {
    next_slot: u64,
    crc: u32,
    body_len: usize,
    saved: u64,
    expired: u64,
}

impl Stitch {
    fn put(&mut self, b: Block, sink: &mut dyn Sink) -> std::io::Result<Vec<u8>> {
        self.saved += b.scanned.saved;
        self.expired += b.scanned.expired;
        let mut out = b.out;
        let mut from = GAP_ROOM;
        if b.scanned.saved > 0 {
            let mut at = GAP_ROOM;
            let gap = format::get_varint(&out, &mut at).unwrap_or(0);
            let mut varint = Vec::with_capacity(GAP_ROOM);
            format::put_varint(&mut varint, b.start as u64 + gap - self.next_slot);
            from = at - varint.len();
            out[from..at].copy_from_slice(&varint);
            self.next_slot = b.scanned.next_slot;
        }
        self.crc = crc32c::crc32c_append(self.crc, &out[from..]);
        self.body_len += out.len() - from;
        sink.put(out, from)
    }
}

/// The snapshot file of `table` at `now`, streamed: the entries go to `sink` as
/// they are encoded; the [`Ending`] says how to finish the file.
///
/// Three steps: the first pass encodes every live slot (on two threads for a
/// large table) and remembers what it saw of each; the second pass finds the
/// slots whose owner changed meanwhile; if a key was saved twice through such a
/// move, the file is rewritten without the stale copy.
pub(crate) fn stream_table(
    table: &Table,
    logs: Option<&LogArena>,
    p: &Params,
    quota: Quota,
    now: Nanos,
    sink: &mut dyn Sink,
) -> std::io::Result<(Ending, SnapshotInfo)> {
    let mut header = keyed_header(table, p, quota, now);
    // The file holds states in the quota's canonical encoding (FORMAT.md); the
    // header's quota is valid for its algorithm, since the limiter runs it.
    let file_p = Params::new(p.algorithm, &quota).unwrap_or(*p);
    let scan = Scan {
        table,
        logs,
        p,
        file_p,
        now,
        codec: EntryCodec::new(&header),
        log_floor: format::log_floor(p, now),
    };
    let slots = table.slot_count();
    // Per slot: 0 if not saved, else the slot's low meta byte as read, plus one
    // (a saved slot is confirmed, so its pending bit, bit 0, is clear): what the
    // second pass compares, without decoding the entries again.
    let mut seen = vec![0u8; slots];
    let two =
        slots >= PARALLEL_SLOTS && std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2);
    let stitch = if two {
        first_pass_on_two_threads(&scan, &mut seen, sink)?
    } else {
        first_pass(&scan, &mut seen, sink)?
    };
    sink.all_put();
    header.entry_count = stitch.saved;
    let info = SnapshotInfo {
        entries: header.entry_count,
        expired: stitch.expired,
        saved_at: now,
        bytes: (HEADER_LEN + stitch.body_len + format::CRC_LEN) as u64,
        ..SnapshotInfo::default()
    };
    let moved_slots = second_pass(table, &seen, two);
    if !moved_slots.is_empty() {
        // Rare (a saved slot changed owner while the scan ran): find the keys
        // saved twice, if any, in the entries written.
        let body = sink.body()?;
        if let Some(ending) = without_stale_copies(&header, &body, &moved_slots, &file_p, info) {
            return Ok(ending);
        }
    }
    let mut head = Vec::with_capacity(HEADER_LEN);
    header.write(&mut head);
    let crc = crc32c::crc32c_combine(crc32c::crc32c(&head), stitch.crc, stitch.body_len);
    Ok((
        Ending::Patch {
            header: head,
            crc: crc.to_le_bytes(),
        },
        info,
    ))
}

/// A keyed snapshot's header, its entry count still to be written.
fn keyed_header(table: &Table, p: &Params, quota: Quota, now: Nanos) -> SnapshotHeader {
    SnapshotHeader {
        version: VERSION,
        kind: SnapshotKind::Keyed,
        algorithm: p.algorithm,
        quota,
        slots_per_group: GROUP_SLOTS as u32,
        group_count: table.group_count() as u64,
        seeds: table.seeds(),
        fingerprint: format::fingerprint(table.seeds()),
        saved_at: now,
        entry_count: 0,
    }
}

fn new_stitch() -> Stitch {
    Stitch {
        next_slot: 0,
        crc: 0,
        body_len: 0,
        saved: 0,
        expired: 0,
    }
}

/// The first pass on this thread alone.
fn first_pass(scan: &Scan<'_>, seen: &mut [u8], sink: &mut dyn Sink) -> std::io::Result<Stitch> {
    let mut stitch = new_stitch();
    let mut buf = Vec::new();
    for (i, seen) in seen.chunks_mut(BLOCK_SLOTS).enumerate() {
        buf = stitch.put(scan.block(i, seen, buf), sink)?;
    }
    Ok(stitch)
}

/// The first pass on two threads: this one encodes the even blocks and stitches
/// every block in order; the other encodes the odd ones, at most two blocks ahead.
fn first_pass_on_two_threads(
    scan: &Scan<'_>,
    seen: &mut [u8],
    sink: &mut dyn Sink,
) -> std::io::Result<Stitch> {
    let mut stitch = new_stitch();
    let count = seen.len().div_ceil(BLOCK_SLOTS);
    let (mine, theirs): (Vec<_>, Vec<_>) = seen
        .chunks_mut(BLOCK_SLOTS)
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    let scan = *scan;
    std::thread::scope(|threads| -> std::io::Result<()> {
        let (to_stitch, encoded) = mpsc::sync_channel::<Block>(4);
        let (to_helper, buffers) = mpsc::channel::<Vec<u8>>();
        // A thread that cannot be had fails the save (an I/O error), not the
        // process.
        std::thread::Builder::new()
            .name("ratecell-snapshot-scan".into())
            .spawn_scoped(threads, move || {
                for (i, seen) in theirs {
                    let buf = buffers.try_recv().unwrap_or_default();
                    if to_stitch.send(scan.block(i, seen, buf)).is_err() {
                        // The stitcher failed and hung up.
                        return;
                    }
                }
            })?;
        let mut mine = mine.into_iter();
        let mut spare = Vec::new();
        for i in 0..count {
            let block = if i % 2 == 0 {
                let Some((i, seen)) = mine.next() else { break };
                scan.block(i, seen, core::mem::take(&mut spare))
            } else {
                // Only a panic of the other thread closes the channel early;
                // the scope re-raises it.
                encoded
                    .recv()
                    .map_err(|_| std::io::Error::other("a snapshot scan thread stopped"))?
            };
            let buf = stitch.put(block, sink)?;
            if i % 2 == 0 {
                // The other thread needs a buffer per block it encodes.
                let _ = to_helper.send(buf);
            } else {
                spare = buf;
            }
        }
        Ok(())
    })?;
    Ok(stitch)
}

/// The second pass: the saved slots whose owner changed since the first pass saw
/// them, sorted (each half of the table on its own thread when `two`).
fn second_pass(table: &Table, seen: &[u8], two: bool) -> Vec<usize> {
    if !two {
        return moved_slots(table, 0, seen);
    }
    let mid = seen.len() / 2 / BLOCK_SLOTS * BLOCK_SLOTS;
    let (seen_a, seen_b) = seen.split_at(mid);
    std::thread::scope(|threads| {
        let second = std::thread::Builder::new()
            .name("ratecell-snapshot-scan".into())
            .spawn_scoped(threads, || moved_slots(table, mid, seen_b));
        let mut moved = moved_slots(table, 0, seen_a);
        moved.extend(match second {
            Ok(t) => t.join().unwrap_or_else(|e| std::panic::resume_unwind(e)),
            // No second thread: this one does that half too.
            Err(_) => moved_slots(table, mid, seen_b),
        });
        moved
    })
}

/// The file re-encoded without the stale copies of keys that moved during the
/// scan, if any key was saved twice.
fn without_stale_copies(
    header: &SnapshotHeader,
    body: &[u8],
    moved_slots: &[usize],
    p: &Params,
    info: SnapshotInfo,
) -> Option<(Ending, SnapshotInfo)> {
    let entries = || format::entries_in(header, body);
    let mut moved: Vec<u64> = entries()
        .filter(|e| moved_slots.binary_search(&(e.slot as usize)).is_ok())
        .map(|e| e.tag)
        .collect();
    moved.sort_unstable();
    moved.dedup();
    let ranks = entries().map(|e| (e.tag, (p.word_expires_at(e.state), e.state)));
    let drop = copies_to_drop(ranks, &moved);
    if drop.is_empty() {
        return None;
    }
    let mut kept = *header;
    kept.entry_count -= drop.len() as u64;
    let mut gone = drop.iter().peekable();
    let bytes = format::encode(
        &kept,
        entries()
            .enumerate()
            .filter(|(i, _)| gone.next_if(|&&d| d == *i).is_none())
            .map(|(_, e)| e),
    );
    let info = SnapshotInfo {
        entries: kept.entry_count,
        duplicates: drop.len() as u64,
        bytes: bytes.len() as u64,
        ..info
    };
    Some((Ending::Rewrite(bytes), info))
}

/// What scanning needs, shared by the scanning threads.
#[derive(Clone, Copy)]
struct Scan<'a> {
    table: &'a Table,
    logs: Option<&'a LogArena>,
    p: &'a Params,
    /// The canonical parameters of the file's quota (see `rebase`).
    file_p: Params,
    now: Nanos,
    codec: EntryCodec,
    log_floor: Nanos,
}

impl Scan<'_> {
    /// Encodes block `i` (whose marks are `seen`) into `buf`, after `GAP_ROOM`.
    fn block(&self, i: usize, seen: &mut [u8], mut buf: Vec<u8>) -> Block {
        let start = i * BLOCK_SLOTS;
        buf.clear();
        buf.resize(GAP_ROOM, 0);
        let end = start + seen.len();
        let scanned = self.range(start..end, seen, &mut buf);
        Block {
            out: buf,
            start,
            scanned,
        }
    }

    /// Encodes the live keys of the slots in `range` into `out`, marking them in
    /// `seen` (indexed from `range.start`).
    fn range(&self, range: core::ops::Range<usize>, seen: &mut [u8], out: &mut Vec<u8>) -> Scanned {
        let base = range.start;
        let mut done = Scanned {
            saved: 0,
            expired: 0,
            next_slot: base as u64,
        };
        let mut times = Vec::new();
        for (idx, s) in self.table.entries(range) {
            #[cfg(test)]
            SCAN_HOOK.with(|h| {
                if let Some(f) = h.borrow_mut().as_mut() {
                    f(self.table, idx);
                }
            });
            let state = s.state();
            if state == 0 {
                // A key claimed and not yet admitted: it holds no state.
                continue;
            }
            if self.p.word_expires_at(state) <= self.now {
                done.expired += 1;
                continue;
            }
            let slot = idx as u64;
            match self.logs {
                Some(logs) => {
                    // A log that is not (or no longer) this owner's holds none of
                    // its admissions: as good as expired.
                    if !logs
                        .at(idx)
                        .live_times(self.log_floor, s.owner_stamp(), &mut times)
                        || times.is_empty()
                    {
                        done.expired += 1;
                        continue;
                    }
                    // Only the newest L times can decide (a lowered quota).
                    let keep = times.len().saturating_sub(self.file_p.limit as usize);
                    self.codec
                        .put_log(out, done.next_slot, slot, s.tag(), &times[keep..]);
                }
                None => {
                    let state = rebase::word(self.p, &self.file_p, state, self.now);
                    self.codec
                        .put_word(out, done.next_slot, slot, s.tag(), state)
                }
            }
            done.next_slot = slot + 1;
            seen[idx - base] = (s.meta() & ((1 << LOW_BITS) - 1)) as u8 | 1;
            done.saved += 1;
        }
        done
    }
}

/// The saved slots (marked in `seen`, see `stream_table`) that no longer have the
/// owner they had when the scan read them, in order. The version changes with
/// every change of owner, so the low byte (version and pending bit) tells.
///
/// Why this finds every key saved twice: a key owns at most one confirmed slot at
/// any moment. Say the scan read it in slots `i` and `j` (at times `s_i < s_j`)
/// and both still have that owner when re-read here (at `t_i` and `t_j`, both
/// after every read of the scan). Then the key owned `i` throughout `[s_i, t_i]`
/// and `j` throughout `[s_j, t_j]`, and those overlap: two slots at once. So at
/// least one of the two changed owner, and is in the list. (A 7-bit version comes
/// back only after 64 changes of owner of one slot during one save.)
fn moved_slots(table: &Table, base: usize, seen: &[u8]) -> Vec<usize> {
    let mut moved = Vec::new();
    for (i, &mark) in seen.iter().enumerate() {
        if mark == 0 {
            continue;
        }
        let idx = base + i;
        let low = Slot(table.slot_word(idx)).meta() & ((1 << LOW_BITS) - 1);
        if low as u8 | 1 != mark || low & 1 != 0 {
            moved.push(idx);
        }
    }
    moved
}

/// Of entries given as `(tag, rank)` in file order, the positions to drop so that
/// each tag in `moved` (sorted) keeps only its highest-ranked entry (the state
/// that expires last: the more restrictive of a moved key's states; ties, the
/// larger state), sorted. Two distinct keys with one 56-bit tag among the moved
/// ones (probability about moved × n / 2^56) lose one of the two states.
pub(crate) fn copies_to_drop<R: Ord + Copy>(
    entries: impl Iterator<Item = (u64, R)>,
    moved: &[u64],
) -> Vec<usize> {
    // Most entries did not move: a bitmap of the moved tags' low bits (tags are
    // hash bits) spares them the binary search.
    let bits = (moved.len() * 64).next_power_of_two();
    let mut filter = vec![0u64; bits.div_ceil(64)];
    let bit = |t: u64| (t as usize) & (bits - 1);
    for &t in moved {
        filter[bit(t) / 64] |= 1 << (bit(t) % 64);
    }
    let mut hits: Vec<(u64, R, usize)> = entries
        .enumerate()
        .filter_map(|(i, (tag, rank))| {
            let b = bit(tag);
            (filter[b / 64] >> (b % 64) & 1 == 1 && moved.binary_search(&tag).is_ok())
                .then_some((tag, rank, i))
        })
        .collect();
    hits.sort_unstable_by_key(|&(tag, _, i)| (tag, i));
    let mut drop = Vec::new();
    for run in hits.chunk_by(|a, b| a.0 == b.0) {
        if let Some(keep) = run.iter().max_by_key(|x| x.1).map(|x| x.2) {
            drop.extend(run.iter().map(|x| x.2).filter(|&i| i != keep));
        }
    }
    drop.sort_unstable();
    drop
}
