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

use super::{EntryProblem, Refusal};
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
/// The longest LEB128 encoding of a `u64`.
const VARINT_MAX: u64 = 10;
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

/// Appends `v` as a LEB128 varint: seven bits per byte, low bits first, the high
/// bit set on every byte but the last.
#[inline(always)]
pub(crate) fn put_varint(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; VARINT_MAX as usize];
    let n = varint_into(&mut buf, 0, v);
    // A fixed-size copy the compiler inlines (a variable one calls memmove),
    // then cut to length.
    let at = out.len();
    out.extend_from_slice(&buf);
    out.truncate(at + n);
}

/// Writes `v`'s varint at `buf[at..]`, which has room for ten bytes; returns its
/// length.
#[inline(always)]
fn varint_into(buf: &mut [u8], at: usize, v: u64) -> usize {
    if let Some((x, len)) = spread(v) {
        buf[at..at + 8].copy_from_slice(&x.to_le_bytes());
        return len;
    }
    let mut v = v;
    let mut n = 0;
    while v >= 0x80 {
        buf[at + n] = v as u8 | 0x80;
        v >>= 7;
        n += 1;
    }
    buf[at + n] = v as u8;
    n + 1
}

/// `v`'s varint as the low bytes of a word, and its length, if it takes at most
/// eight bytes (`v` below 2^56). The 7-bit groups spread into bytes by three
/// mask-and-shift steps (the reverse of `get_long_varint`), with continuation
/// bits on all but the last: no loop, no branch per byte.
#[inline(always)]
fn spread(v: u64) -> Option<(u64, usize)> {
    // The number of 7-bit groups (at least one, for 0).
    let len = (64 - (v | 1).leading_zeros()).div_ceil(7) as usize;
    if len > 8 {
        return None;
    }
    let mut x = (v & 0x0FFF_FFFF) | (v & 0x00FF_FFFF_F000_0000) << 4;
    x = (x & 0x0000_3FFF_0000_3FFF) | (x & 0x0FFF_C000_0FFF_C000) << 2;
    x = (x & 0x007F_007F_007F_007F) | (x & 0x3F80_3F80_3F80_3F80) << 1;
    x |= 0x8080_8080_8080_8080 & ((1u64 << (8 * (len - 1))) - 1);
    Some((x, len))
}

/// The varint at `*at`, advancing `*at` past it. `None` if the bytes run out, the
/// value needs more than 64 bits, or the encoding is longer than needed (a final
/// zero byte): each value has exactly one encoding.
#[inline(always)]
pub(crate) fn get_varint(b: &[u8], at: &mut usize) -> Option<u64> {
    // Most varints of a file are one byte (slot gaps): no loop for them.
    let first = *b.get(*at)?;
    if first < 0x80 {
        *at += 1;
        return Some(u64::from(first));
    }
    get_long_varint(b, at)
}

#[inline]
fn get_long_varint(b: &[u8], at: &mut usize) -> Option<u64> {
    if let Some(word) = b.get(*at..*at + 8) {
        // Up to eight bytes at once: the first byte without the continuation bit
        // ends the varint, and the 7-bit groups are packed together by three
        // mask-and-shift steps (no loop, no branch per byte).
        let x = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        let stops = !x & 0x8080_8080_8080_8080;
        if stops != 0 {
            let len = (stops.trailing_zeros() as usize + 1) / 8;
            let last = (x >> (8 * (len - 1))) as u8;
            if last == 0 {
                // Longer than needed (`len` > 1 here: one-byte varints never get here).
                return None;
            }
            let mut v = x & (u64::MAX >> (64 - 8 * len)) & 0x7F7F_7F7F_7F7F_7F7F;
            v = (v & 0x007F_007F_007F_007F) | (v & 0x7F00_7F00_7F00_7F00) >> 1;
            v = (v & 0x0000_3FFF_0000_3FFF) | (v & 0x3FFF_0000_3FFF_0000) >> 2;
            v = (v & 0x0000_0000_0FFF_FFFF) | (v & 0x0FFF_FFFF_0000_0000) >> 4;
            *at += len;
            return Some(v);
        }
    }
    let mut v = 0;
    for i in 0..VARINT_MAX as usize {
        let byte = *b.get(*at + i)?;
        if i == 9 && byte > 1 {
            return None;
        }
        v |= u64::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            if i > 0 && byte == 0 {
                return None;
            }
            *at += i + 1;
            return Some(v);
        }
    }
    None
}

/// The latest clock reading a file may be saved at: the timeline the crate keeps
/// exact ends at 2^63 ns (the year 2262); past it, expiry times saturate and a
/// restore could not tell live states from expired ones.
pub(crate) const MAX_SAVED_AT: Nanos = 1 << 63;

/// Refuses a save time past the timeline (a writer's clock, or a file's header).
pub(crate) fn saved_in_timeline(saved_at: Nanos) -> Result<(), Refusal> {
    if saved_at > MAX_SAVED_AT {
        return Err(Refusal::BadHeader(
            "saved at a clock reading past the end of the timeline (2^63 ns)",
        ));
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

/// What entries look like under a header: which fields they have, and the floors
/// their numbers are stored relative to.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EntryCodec {
    keyed: bool,
    /// `Some(L)` for the sliding-window log: entries hold up to `L` times.
    log_limit: Option<u64>,
    state_floor: u64,
    log_floor: Nanos,
}

impl EntryCodec {
    pub(crate) fn new(header: &SnapshotHeader) -> Self {
        let p = Params::new(header.algorithm, &header.quota);
        // A parsed header's quota is valid for its algorithm; a failure here could
        // only come from a hand-built header, whose floors then do not matter.
        let (state_floor, log_floor) = p.as_ref().map_or((1, 0), |p| {
            (
                state_floor(p, header.saved_at),
                log_floor(p, header.saved_at),
            )
        });
        Self {
            keyed: header.kind == SnapshotKind::Keyed,
            log_limit: (header.algorithm == Algorithm::SlidingWindowLog)
                .then(|| u64::from(header.quota.limit())),
            state_floor,
            log_floor,
        }
    }

    /// The fewest bytes an entry takes.
    fn min_entry_len(&self) -> u64 {
        let key = if self.keyed { 1 + TAG_LEN as u64 } else { 0 };
        key + if self.log_limit.is_some() { 2 } else { 1 }
    }

    /// The most bytes an entry can take.
    fn max_entry_len(&self) -> u64 {
        let key = if self.keyed {
            VARINT_MAX + TAG_LEN as u64
        } else {
            0
        };
        key + match self.log_limit {
            Some(l) => 3 + l * VARINT_MAX,
            None => VARINT_MAX,
        }
    }

    /// Appends a word algorithm's entry; `next_slot` is one past the previous
    /// entry's slot (0 at the first).
    #[inline(always)]
    pub(crate) fn put_word(
        &self,
        out: &mut Vec<u8>,
        next_slot: u64,
        slot: u64,
        tag: u64,
        state: u64,
    ) {
        let delta = state - self.state_floor;
        if self.keyed {
            if let (Some((gap, n1)), Some((st, n2))) = (spread(slot - next_slot), spread(delta)) {
                // The usual entry, at most 23 bytes, assembled in registers and
                // appended as 16 + 8 bytes, then cut to length: the scan of a save
                // spends most of its time here, and bytes written to a stack
                // buffer at odd offsets and read back wide stall the CPU.
                let at_state = 8 * (n1 + TAG_LEN) as u32;
                let lo = u128::from(gap) | u128::from(tag) << (8 * n1) | u128::from(st) << at_state;
                let hi = st.checked_shr(128 - at_state).unwrap_or(0);
                let at = out.len();
                out.extend_from_slice(&lo.to_le_bytes());
                out.extend_from_slice(&hi.to_le_bytes());
                out.truncate(at + n1 + TAG_LEN + n2);
                return;
            }
        }
        let mut buf = [0u8; 32];
        let mut n = 0;
        if self.keyed {
            n = varint_into(&mut buf, 0, slot - next_slot);
            buf[n..n + 8].copy_from_slice(&tag.to_le_bytes());
            n += TAG_LEN;
        }
        n += varint_into(&mut buf, n, delta);
        let at = out.len();
        out.extend_from_slice(&buf);
        out.truncate(at + n);
    }

    /// Appends a sliding-window log's entry: its live times, oldest first (at
    /// least one, at least the log floor, never decreasing).
    pub(crate) fn put_log(
        &self,
        out: &mut Vec<u8>,
        next_slot: u64,
        slot: u64,
        tag: u64,
        times: &[Nanos],
    ) {
        self.put_key(out, next_slot, slot, tag);
        put_varint(out, times.len() as u64);
        let mut prev = self.log_floor;
        for &t in times {
            put_varint(out, t - prev);
            prev = t;
        }
    }

    #[inline(always)]
    fn put_key(&self, out: &mut Vec<u8>, next_slot: u64, slot: u64, tag: u64) {
        if self.keyed {
            put_varint(out, slot - next_slot);
            // Eight bytes appended and one cut: see `put_varint`.
            let len = out.len();
            out.extend_from_slice(&tag.to_le_bytes());
            out.truncate(len + TAG_LEN);
        }
    }

    /// Decodes the entry at `*at` of `body`; `Err` says what is wrong with it.
    #[inline(always)]
    fn get<'a>(
        &self,
        body: &'a [u8],
        at: &mut usize,
        next_slot: u64,
        slots: u64,
    ) -> Result<SnapshotEntry<'a>, EntryError> {
        let varint = |at: &mut usize| match get_varint(body, at) {
            Some(v) => Ok(v),
            None => Err(varint_error(body, *at)),
        };
        let Some(limit) = self.log_limit else {
            let (slot, tag, state) = self.get_word(body, at, next_slot, slots)?;
            return Ok(SnapshotEntry {
                slot,
                tag,
                state,
                log: LogTimes::EMPTY,
            });
        };
        let (slot, tag) = self.get_key(body, at, next_slot, slots)?;
        let count = varint(at)?;
        if count == 0 || count > limit {
            return Err(EntryError::Bad(EntryProblem::BadLogLength));
        }
        let start = *at;
        let mut t = self.log_floor;
        for _ in 0..count {
            t = t
                .checked_add(varint(at)?)
                .ok_or(EntryError::Bad(EntryProblem::StateOverflow))?;
        }
        // The state word is 1 + the newest time.
        let state = t
            .checked_add(1)
            .ok_or(EntryError::Bad(EntryProblem::StateOverflow))?;
        Ok(SnapshotEntry {
            slot,
            tag,
            state,
            log: LogTimes {
                bytes: &body[start..*at],
                left: count,
                prev: self.log_floor,
            },
        })
    }

    /// A word algorithm's entry at `*at`: (slot, tag, state), small enough to stay
    /// in registers (a whole `SnapshotEntry` moved through memory costs a restore
    /// more than the decoding).
    #[inline(always)]
    fn get_word(
        &self,
        body: &[u8],
        at: &mut usize,
        next_slot: u64,
        slots: u64,
    ) -> Result<(u64, u64, u64), EntryError> {
        let (slot, tag) = self.get_key(body, at, next_slot, slots)?;
        let delta = get_varint(body, at).ok_or_else(|| varint_error(body, *at))?;
        let state = self
            .state_floor
            .checked_add(delta)
            .ok_or(EntryError::Bad(EntryProblem::StateOverflow))?;
        Ok((slot, tag, state))
    }

    /// The slot and tag at `*at` (both 0 for a direct limiter's entry).
    #[inline(always)]
    fn get_key(
        &self,
        body: &[u8],
        at: &mut usize,
        next_slot: u64,
        slots: u64,
    ) -> Result<(u64, u64), EntryError> {
        let (mut slot, mut tag) = (0, 0);
        if self.keyed {
            let gap = get_varint(body, at).ok_or_else(|| varint_error(body, *at))?;
            slot = next_slot
                .checked_add(gap)
                .filter(|&s| s < slots)
                .ok_or(EntryError::Bad(EntryProblem::SlotOutOfRange))?;
            tag = match body.get(*at..*at + 8) {
                // Eight bytes read and the eighth masked off: a fixed-size load.
                Some(raw) => u64::from_le_bytes(raw.try_into().unwrap_or([0; 8])) & (u64::MAX >> 8),
                None => {
                    let raw = body.get(*at..*at + TAG_LEN).ok_or(EntryError::Truncated)?;
                    let mut w = [0; 8];
                    w[..TAG_LEN].copy_from_slice(raw);
                    u64::from_le_bytes(w)
                }
            };
            *at += TAG_LEN;
            if tag & TAG_MARK == 0 {
                return Err(EntryError::Bad(EntryProblem::BadTag));
            }
        }
        Ok((slot, tag))
    }
}

enum EntryError {
    Truncated,
    Bad(EntryProblem),
}

/// Why the varint at `at` did not decode: the bytes ran out mid-varint, or it is
/// malformed.
#[cold]
fn varint_error(body: &[u8], at: usize) -> EntryError {
    let rest = &body[at.min(body.len())..];
    if rest.len() < VARINT_MAX as usize && rest.iter().all(|b| b & 0x80 != 0) {
        EntryError::Truncated
    } else {
        EntryError::Bad(EntryProblem::BadVarint)
    }
}

impl SnapshotHeader {
    /// Decodes and checks the first 120 bytes of `bytes` (what follows
    /// is not looked at): magic, version, algorithm, flags, the quota's validity
    /// for the algorithm, the table shape, and that the entry count fits the
    /// table.
    pub fn parse(bytes: &[u8]) -> Result<Self, Refusal> {
        if bytes.len() < MAGIC.len() || bytes[..MAGIC.len()] != MAGIC {
            // A short file that is a prefix of the magic is a truncated snapshot.
            return Err(if bytes.len() < MAGIC.len() && MAGIC.starts_with(bytes) {
                Refusal::Truncated {
                    len: bytes.len() as u64,
                    expected: HEADER_LEN as u64,
                }
            } else {
                Refusal::BadMagic
            });
        }
        if bytes.len() < 10 {
            return Err(Refusal::Truncated {
                len: bytes.len() as u64,
                expected: HEADER_LEN as u64,
            });
        }
        let version = u16_at(bytes, 8);
        if version != VERSION {
            return Err(Refusal::UnsupportedVersion {
                found: version,
                supported: VERSION,
            });
        }
        if bytes.len() < HEADER_LEN {
            return Err(Refusal::Truncated {
                len: bytes.len() as u64,
                expected: HEADER_LEN as u64,
            });
        }
        let id = bytes[10];
        let algorithm = algorithm_of(id).ok_or(Refusal::UnknownAlgorithm { id })?;
        let flags = bytes[11];
        if flags & !FLAGS_KNOWN != 0 {
            return Err(Refusal::BadHeader("reserved flag bits are set"));
        }
        let (limit, period, burst) = (u32_at(bytes, 12), u64_at(bytes, 16), u32_at(bytes, 24));
        let explicit = flags & FLAG_EXPLICIT_BURST != 0;
        if !explicit && burst != limit {
            return Err(Refusal::BadHeader(
                "burst differs from the limit without the explicit-burst flag",
            ));
        }
        let quota = Quota::from_nanos(limit, period, explicit.then_some(burst))
            .map_err(|_| Refusal::BadHeader("the quota is invalid"))?;
        if Params::new(algorithm, &quota).is_err() {
            return Err(Refusal::BadHeader("the quota is invalid for the algorithm"));
        }
        let h = Self {
            version,
            kind: if flags & FLAG_DIRECT != 0 {
                SnapshotKind::Direct
            } else {
                SnapshotKind::Keyed
            },
            algorithm,
            quota,
            slots_per_group: u32_at(bytes, 28),
            group_count: u64_at(bytes, 32),
            seeds: u64s_at(bytes, 40),
            fingerprint: u64s_at(bytes, 72),
            saved_at: u64_at(bytes, 104),
            entry_count: u64_at(bytes, ENTRY_COUNT_AT),
        };
        saved_in_timeline(h.saved_at)?;
        match h.kind {
            SnapshotKind::Keyed => {
                if h.slots_per_group == 0 || h.group_count == 0 {
                    return Err(Refusal::BadHeader("a keyed table has no slots"));
                }
                if h.entry_count > h.slot_count() {
                    return Err(Refusal::TooManyEntries {
                        entries: h.entry_count,
                        slots: h.slot_count(),
                    });
                }
            }
            SnapshotKind::Direct => {
                if h.slots_per_group != 0
                    || h.group_count != 0
                    || h.seeds != [0; 4]
                    || h.fingerprint != [0; 4]
                {
                    return Err(Refusal::BadHeader(
                        "a direct limiter's table fields are not zero",
                    ));
                }
                if h.entry_count > 1 {
                    return Err(Refusal::TooManyEntries {
                        entries: h.entry_count,
                        slots: 1,
                    });
                }
            }
        }
        Ok(h)
    }

    /// Slots in the table (saturating: a corrupt header cannot overflow it, and
    /// any value that large is refused by the length check anyway).
    pub fn slot_count(&self) -> u64 {
        match self.kind {
            SnapshotKind::Keyed => self
                .group_count
                .saturating_mul(u64::from(self.slots_per_group)),
            SnapshotKind::Direct => 1,
        }
    }

    /// The shortest and the longest file this header can head: entries are
    /// variable-length, so a reader checks the file's size against both before it
    /// reads (or allocates for) the rest. Saturating: a corrupt count may be huge.
    pub fn file_len_bounds(&self) -> (u64, u64) {
        let codec = EntryCodec::new(self);
        let fixed = (HEADER_LEN + CRC_LEN) as u64;
        let bound = |per: u64| self.entry_count.saturating_mul(per).saturating_add(fixed);
        (bound(codec.min_entry_len()), bound(codec.max_entry_len()))
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        let mut flags = 0;
        if self.quota.has_explicit_burst() {
            flags |= FLAG_EXPLICIT_BURST;
        }
        if self.kind == SnapshotKind::Direct {
            flags |= FLAG_DIRECT;
        }
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&self.version.to_le_bytes());
        out.push(algorithm_id(self.algorithm));
        out.push(flags);
        out.extend_from_slice(&self.quota.limit().to_le_bytes());
        out.extend_from_slice(&self.quota.period_nanos().to_le_bytes());
        out.extend_from_slice(&self.quota.burst().to_le_bytes());
        out.extend_from_slice(&self.slots_per_group.to_le_bytes());
        out.extend_from_slice(&self.group_count.to_le_bytes());
        for s in self.seeds.iter().chain(&self.fingerprint) {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out.extend_from_slice(&self.saved_at.to_le_bytes());
        out.extend_from_slice(&self.entry_count.to_le_bytes());
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
