//! The snapshot file format, version 2: pure encoding and decoding (no I/O).
//!
//! `FORMAT.md` at the top of the repository documents every byte; the constants
//! below are its offsets. Decoding never allocates: [`decode`] checks the length
//! against the bounds the header implies, then the checksum, the hash fingerprint
//! and every entry, and returns a view that borrows the bytes.
//!
//! Entries are variable-length: integers that are small in practice (the gap to
//! the previous slot, a state's distance from the oldest state still live at the
//! save, the gaps between a log's times) are LEB128 varints, which keeps a
//! million-key file near 14 MB instead of 24. A save's cost is mostly the disk
//! writing the file, so bytes are time.

mod entry;
mod header;
mod varint;

pub(crate) use entry::EntryCodec;
use entry::EntryError;
pub(crate) use varint::{get_varint, put_varint};
use varint::{spread, varint_into, VARINT_MAX};

use super::{EntryProblem, HeaderProblem, Refusal};
use crate::algorithm::{Algorithm, Params};
use crate::clock::Nanos;
use crate::quota::Quota;

/// `\x89RCSNAP\n`: a non-ASCII first byte (a text file never starts with it) and a
/// final newline (a line-ending conversion is detected), as PNG does.
pub(crate) const MAGIC: [u8; 8] = *b"\x89RCSNAP\n";
/// The only version this build reads and writes. Version 2 has version 1's bytes,
/// but its slots belong to a table whose candidate groups lie one in each half
/// (FORMAT.md, *History*): a version 1 file's keys would be looked for in the
/// wrong groups, so it is refused.
pub(crate) const VERSION: u16 = 2;
pub(crate) const HEADER_LEN: usize = 120;
/// Where the entry count sits (the header's last field).
pub(crate) const ENTRY_COUNT_AT: usize = 112;
pub(crate) const CRC_LEN: usize = 4;
/// A tag is 56 bits: seven bytes.
const TAG_LEN: usize = 7;
/// Every tag has its top bit set (so that 0 means "no key" in memory).
const TAG_MARK: u64 = 1 << 55;

const FLAG_EXPLICIT_BURST: u8 = 1;
const FLAG_DIRECT: u8 = 2;
const FLAGS_KNOWN: u8 = FLAG_EXPLICIT_BURST | FLAG_DIRECT;

/// The algorithm ids of the file format (fixed forever; never reuse one).
pub(crate) fn algorithm_id(a: Algorithm) -> u8 {
    match a {
        Algorithm::TokenBucket => 0,
        Algorithm::LeakyBucket => 1,
        Algorithm::FixedWindow => 2,
        Algorithm::SlidingWindowLog => 3,
        Algorithm::SlidingWindowCounter => 4,
    }
}

fn algorithm_of(id: u8) -> Option<Algorithm> {
    Some(match id {
        0 => Algorithm::TokenBucket,
        1 => Algorithm::LeakyBucket,
        2 => Algorithm::FixedWindow,
        3 => Algorithm::SlidingWindowLog,
        4 => Algorithm::SlidingWindowCounter,
        _ => return None,
    })
}

/// Whose state a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SnapshotKind {
    /// A keyed [`Limiter`](crate::Limiter)'s table: one entry per live key.
    Keyed,
    /// A [`DirectLimiter`](crate::DirectLimiter)'s one state (at most one entry).
    Direct,
}

/// A snapshot file's header, decoded and checked for internal consistency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SnapshotHeader {
    /// The format version (this build reads and writes only 2).
    pub version: u16,
    /// Keyed table or direct limiter.
    pub kind: SnapshotKind,
    /// The algorithm whose states the entries are.
    pub algorithm: Algorithm,
    /// The quota the states were made under.
    pub quota: Quota,
    /// Slots per table group (0 for a direct limiter).
    pub slots_per_group: u32,
    /// Table groups (0 for a direct limiter).
    pub group_count: u64,
    /// The `ahash` seeds of the table the entries were placed by.
    pub seeds: [u64; 4],
    /// The 64-bit hashes of the four probe keys under `seeds` by the writer's build.
    pub fingerprint: [u64; 4],
    /// The writer's clock at the save: nanoseconds on the timeline.
    pub saved_at: Nanos,
    /// How many entries follow the header.
    pub entry_count: u64,
}

/// One saved key: where it sat, who it was, its state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotEntry<'a> {
    /// The slot index in the table (0 for a direct limiter).
    pub slot: u64,
    /// The key's 56-bit tag (0 for a direct limiter).
    pub tag: u64,
    /// The algorithm's state word (absolute times on the timeline). For the
    /// sliding-window log: 1 + the newest time of its log, as the keyed table keeps it.
    pub state: u64,
    /// The sliding-window log's live times, oldest first (empty for the other
    /// algorithms).
    pub log: LogTimes<'a>,
}

/// A saved sliding-window log's times, oldest first, decoded as iterated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogTimes<'a> {
    /// The encoded gaps still to read (checked by [`decode`]).
    bytes: &'a [u8],
    left: u64,
    /// The previous time (the live floor before the first).
    prev: Nanos,
}

impl LogTimes<'_> {
    pub(crate) const EMPTY: LogTimes<'static> = LogTimes {
        bytes: &[],
        left: 0,
        prev: 0,
    };
}

impl Iterator for LogTimes<'_> {
    type Item = Nanos;

    fn next(&mut self) -> Option<Nanos> {
        if self.left == 0 {
            return None;
        }
        let mut at = 0;
        // `decode` accepted these bytes, so the varint is there and the sum fits.
        let gap = get_varint(self.bytes, &mut at).unwrap_or(0);
        self.bytes = &self.bytes[at..];
        self.left -= 1;
        self.prev = self.prev.saturating_add(gap);
        Some(self.prev)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.left).unwrap_or(usize::MAX);
        (n, Some(n))
    }
}

impl ExactSizeIterator for LogTimes<'_> {}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut w = [0; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

fn u64s_at(b: &[u8], at: usize) -> [u64; 4] {
    core::array::from_fn(|i| u64_at(b, at + 8 * i))
}

/// The latest clock reading a file may be saved at: the timeline the crate keeps
/// exact ends at 2^63 ns (the year 2262); past it, expiry times saturate and a
/// restore could not tell live states from expired ones.
pub(crate) const MAX_SAVED_AT: Nanos = 1 << 63;

/// Refuses a save time past the timeline (a writer's clock, or a file's header).
pub(crate) fn saved_in_timeline(saved_at: Nanos) -> Result<(), Refusal> {
    if saved_at > MAX_SAVED_AT {
        return Err(Refusal::BadHeader(HeaderProblem::SavedPastTimeline));
    }
    Ok(())
}

/// The probe keys: four types that reach different paths of `ahash` and of their
/// `Hash` impls (a short `str`, an integer, a long byte slice, a tuple).
pub(crate) fn fingerprint(seeds: [u64; 4]) -> [u64; 4] {
    let h = ahash::RandomState::with_seeds(seeds[0], seeds[1], seeds[2], seeds[3]);
    [
        h.hash_one("ratecell-fp-0"),
        h.hash_one(0x0123_4567_89ab_cdef_u64),
        h.hash_one(
            &b"ratecell-fp-2: a probe key longer than sixty-four bytes, for the long path"[..],
        ),
        h.hash_one((3_u32, "ratecell-fp-3")),
    ]
}

/// The smallest state word that is still live at `at` (`word_expires_at` after
/// `at`): a saved state is stored as its distance from this floor, which is
/// small. `word_expires_at` never decreases as the state grows, so a binary
/// search finds it; `u64::MAX` if no state is live (not below 2^63 ns).
pub(crate) fn state_floor(p: &Params, at: Nanos) -> u64 {
    let (mut lo, mut hi) = (1, u64::MAX);
    if p.word_expires_at(hi) <= at {
        return hi;
    }
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if p.word_expires_at(mid) > at {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// The oldest log time still in the window at `at` (the sliding-window log
/// forgets times at or before `at - P`).
pub(crate) fn log_floor(p: &Params, at: Nanos) -> Nanos {
    if at < p.period {
        0
    } else {
        at - p.period + 1
    }
}

/// Appends the checksum of everything in `out`.
pub(crate) fn seal(out: &mut Vec<u8>) {
    let crc = crc32c::crc32c(out);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// A checked file, borrowing its bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct View<'a> {
    pub header: SnapshotHeader,
    /// The entries' bytes, every entry checked.
    body: &'a [u8],
    codec: EntryCodec,
}

impl<'a> View<'a> {
    pub(crate) fn entries(&self) -> Entries<'a> {
        Entries {
            body: self.body,
            at: 0,
            next_slot: 0,
            left: self.header.entry_count,
            codec: self.codec,
        }
    }
}

impl<'a> View<'a> {
    /// The entries of a word algorithm's file as (slot, tag, state).
    pub(crate) fn word_entries(&self) -> impl Iterator<Item = (u64, u64, u64)> + 'a {
        let (body, codec) = (self.body, self.codec);
        let (mut at, mut next_slot) = (0, 0);
        (0..self.header.entry_count).map_while(move |_| {
            // `decode` checked every entry, so this cannot fail.
            let e = codec.get_word(body, &mut at, next_slot, u64::MAX).ok()?;
            next_slot = e.0 + 1;
            Some(e)
        })
    }
}

/// The entries of a checked file, in order.
#[derive(Clone, Debug)]
pub(crate) struct Entries<'a> {
    body: &'a [u8],
    at: usize,
    next_slot: u64,
    left: u64,
    codec: EntryCodec,
}

impl<'a> Iterator for Entries<'a> {
    type Item = SnapshotEntry<'a>;

    #[inline]
    fn next(&mut self) -> Option<SnapshotEntry<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // `decode` checked every entry, so this cannot fail.
        let e = self
            .codec
            .get(self.body, &mut self.at, self.next_slot, u64::MAX)
            .ok()?;
        self.next_slot = e.slot + 1;
        Some(e)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.left).unwrap_or(usize::MAX);
        (n, Some(n))
    }
}

impl ExactSizeIterator for Entries<'_> {}

/// The entries of a body this build encoded (not checked: a save reading back
/// its own buffer).
pub(crate) fn entries_in<'a>(header: &SnapshotHeader, body: &'a [u8]) -> Entries<'a> {
    Entries {
        body,
        at: 0,
        next_slot: 0,
        left: header.entry_count,
        codec: EntryCodec::new(header),
    }
}

/// Decodes a whole file. Checks, in order: the header ([`SnapshotHeader::parse`]),
/// the length against the bounds the entry count implies, the checksum, the hash
/// fingerprint, and every entry (canonical varints, slots in range and increasing,
/// a tag, no state past the timeline, a log's length), then that the entries end
/// exactly at the checksum. Allocates nothing.
pub(crate) fn decode(bytes: &[u8]) -> Result<View<'_>, Refusal> {
    let header = SnapshotHeader::parse(bytes)?;
    let len = bytes.len() as u64;
    let (min, max) = header.file_len_bounds();
    if len < min {
        return Err(Refusal::Truncated { len, expected: min });
    }
    if len > max {
        return Err(Refusal::TrailingBytes { len, expected: max });
    }
    let body_end = bytes.len() - CRC_LEN;
    let stored = u32_at(bytes, body_end);
    let computed = crc32c::crc32c(&bytes[..body_end]);
    // Fuzzing skips the checksum, so that mutations reach the checks behind it;
    // the fuzz target's round trip compares everything but these four bytes.
    if stored != computed && !cfg!(fuzzing) {
        return Err(Refusal::BadChecksum { stored, computed });
    }
    if header.kind == SnapshotKind::Keyed && fingerprint(header.seeds) != header.fingerprint {
        return Err(Refusal::FingerprintMismatch);
    }
    let body = &bytes[HEADER_LEN..body_end];
    let codec = EntryCodec::new(&header);
    let slots = header.slot_count();
    let (mut at, mut next_slot) = (0, 0);
    for index in 0..header.entry_count {
        let slot = if codec.log_limit.is_none() {
            codec.get_word(body, &mut at, next_slot, slots).map(|e| e.0)
        } else {
            codec.get(body, &mut at, next_slot, slots).map(|e| e.slot)
        };
        match slot {
            Ok(slot) => next_slot = slot + 1,
            Err(EntryError::Truncated) => {
                // The entries run out before the count: the file needs more bytes
                // (how many the varints would have said; at least one).
                return Err(Refusal::Truncated {
                    len,
                    expected: len + 1,
                });
            }
            Err(EntryError::Bad(problem)) => return Err(Refusal::BadEntry { index, problem }),
        }
    }
    if at != body.len() {
        return Err(Refusal::TrailingBytes {
            len,
            expected: (HEADER_LEN + at + CRC_LEN) as u64,
        });
    }
    Ok(View {
        header,
        body,
        codec,
    })
}

/// Encodes a header and its entries (the entry count is the header's).
pub(crate) fn encode<'a>(
    header: &SnapshotHeader,
    entries: impl Iterator<Item = SnapshotEntry<'a>>,
) -> Vec<u8> {
    let codec = EntryCodec::new(header);
    let mut out = Vec::new();
    header.write(&mut out);
    let mut next_slot = 0;
    let mut times = Vec::new();
    for e in entries {
        if codec.log_limit.is_some() {
            times.clear();
            times.extend(e.log);
            codec.put_log(&mut out, next_slot, e.slot, e.tag, &times);
        } else {
            codec.put_word(&mut out, next_slot, e.slot, e.tag, e.state);
        }
        next_slot = e.slot + 1;
    }
    seal(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_have_one_encoding_each() {
        let mut values: Vec<u64> = (0..5_000).collect();
        for shift in 0..64 {
            let p = 1u64 << shift;
            values.extend([p - 1, p, p + 1, p.wrapping_mul(3) | 1]);
        }
        values.push(u64::MAX);
        for v in values {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            // The plain byte-at-a-time LEB128 encoding.
            let mut plain = Vec::new();
            let mut w = v;
            while w >= 0x80 {
                plain.push(w as u8 | 0x80);
                w >>= 7;
            }
            plain.push(w as u8);
            assert_eq!(out, plain, "{v}");
            // Every length the reader may see: exactly the varint, or more after it
            // (the eight-byte fast path).
            for pad in [0, 1, 9] {
                let mut buf = out.clone();
                buf.extend(core::iter::repeat_n(0xFF, pad));
                let mut at = 0;
                assert_eq!(get_varint(&buf, &mut at), Some(v), "{v}");
                assert_eq!(at, out.len());
            }
            // The same value one byte longer (a continuation, then a zero byte) is
            // refused, on both paths.
            if out.len() < VARINT_MAX as usize {
                let mut long = out.clone();
                *long.last_mut().unwrap() |= 0x80;
                long.push(0);
                for pad in [0, 9] {
                    let mut buf = long.clone();
                    buf.extend(core::iter::repeat_n(0, pad));
                    assert_eq!(get_varint(&buf, &mut 0), None, "overlong {v}");
                }
            }
        }
        // Beyond 64 bits: a tenth byte above 1, or an eleventh byte.
        let mut big = vec![0xFF; 9];
        big.push(0x02);
        assert_eq!(get_varint(&big, &mut 0), None);
        let mut eleven = vec![0x80; 10];
        eleven.push(0x01);
        assert_eq!(get_varint(&eleven, &mut 0), None);
        // Running out mid-varint.
        assert_eq!(get_varint(&[0x80, 0x80], &mut 0), None);
        assert_eq!(get_varint(&[], &mut 0), None);
    }
}
