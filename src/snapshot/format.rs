//! The snapshot file format, version 1: pure encoding and decoding (no I/O).
//!
//! `FORMAT.md` at the top of the repository documents every byte; the constants
//! below are its offsets. Decoding never allocates: [`decode`] checks the lengths
//! against the slice, then the checksum, the hash fingerprint and every entry, and
//! returns a view that borrows the bytes.

use super::{EntryProblem, Refusal};
use crate::algorithm::{Algorithm, Params};
use crate::clock::Nanos;
use crate::quota::Quota;

/// `\x89RCSNAP\n`: a non-ASCII first byte (a text file never starts with it) and a
/// final newline (a line-ending conversion is detected), as PNG does.
pub(crate) const MAGIC: [u8; 8] = *b"\x89RCSNAP\n";
/// The only version this build reads and writes.
pub(crate) const VERSION: u16 = 1;
pub(crate) const HEADER_LEN: usize = 120;
/// Where the entry count sits (the header's last field).
pub(crate) const ENTRY_COUNT_AT: usize = 112;
pub(crate) const ENTRY_LEN: usize = 24;
pub(crate) const CRC_LEN: usize = 4;

const FLAG_EXPLICIT_BURST: u8 = 1;
const FLAG_DIRECT: u8 = 2;
const FLAGS_KNOWN: u8 = FLAG_EXPLICIT_BURST | FLAG_DIRECT;

/// The stored meta word is the tag shifted above 8 low bits that must be zero
/// (no version, no pending claim: a file holds confirmed keys only).
const META_LOW_BITS: u32 = 8;

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
    /// A [`DirectLimiter`](crate::DirectLimiter)'s one state word (at most one
    /// entry).
    Direct,
}

/// A snapshot file's header, decoded and checked for internal consistency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SnapshotHeader {
    /// The format version (this build reads and writes only 1).
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SnapshotEntry {
    /// The slot index in the table (0 for a direct limiter).
    pub slot: u64,
    /// The key's 56-bit tag (0 for a direct limiter).
    pub tag: u64,
    /// The algorithm's state word (absolute times on the timeline).
    pub state: u64,
}

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
        if !algorithm.is_word() {
            return Err(Refusal::UnsupportedAlgorithm(algorithm));
        }
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
            entry_count: u64_at(bytes, 112),
        };
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

    /// The length of the whole file this header announces. `entry_count` is at most
    /// the slot count, but that may be anything below 2^64: saturate.
    pub fn file_len(&self) -> u64 {
        self.entry_count
            .saturating_mul(ENTRY_LEN as u64)
            .saturating_add((HEADER_LEN + CRC_LEN) as u64)
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

pub(crate) fn write_entry(out: &mut Vec<u8>, e: SnapshotEntry) {
    out.extend_from_slice(&e.slot.to_le_bytes());
    out.extend_from_slice(&(e.tag << META_LOW_BITS).to_le_bytes());
    out.extend_from_slice(&e.state.to_le_bytes());
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
    /// Exactly `entry_count × ENTRY_LEN` bytes, every entry checked.
    entries: &'a [u8],
}

/// An entry's fields, and the meta word's low bits (which must be 0).
pub(crate) fn read_entry(raw: &[u8]) -> (SnapshotEntry, u64) {
    let meta = u64_at(raw, 8);
    let e = SnapshotEntry {
        slot: u64_at(raw, 0),
        tag: meta >> META_LOW_BITS,
        state: u64_at(raw, 16),
    };
    (e, meta & ((1 << META_LOW_BITS) - 1))
}

impl<'a> View<'a> {
    pub(crate) fn entries(&self) -> impl ExactSizeIterator<Item = SnapshotEntry> + 'a {
        self.entries
            .chunks_exact(ENTRY_LEN)
            .map(|raw| read_entry(raw).0)
    }
}

/// The entries of a file [`decode`] accepted.
pub(crate) fn entries_of(bytes: &[u8]) -> impl ExactSizeIterator<Item = SnapshotEntry> + '_ {
    let end = bytes
        .len()
        .saturating_sub(CRC_LEN)
        .max(HEADER_LEN.min(bytes.len()));
    bytes[HEADER_LEN.min(bytes.len())..end]
        .chunks_exact(ENTRY_LEN)
        .map(|raw| read_entry(raw).0)
}

/// Decodes a whole file. Checks, in order: the header ([`SnapshotHeader::parse`]),
/// the length against the header's entry count, the checksum, the hash
/// fingerprint, and every entry (in range, strictly increasing slots, a tag, no
/// reserved bits, a state). Allocates nothing.
pub(crate) fn decode(bytes: &[u8]) -> Result<View<'_>, Refusal> {
    let header = SnapshotHeader::parse(bytes)?;
    let len = bytes.len() as u64;
    let expected = header.file_len();
    if len < expected {
        return Err(Refusal::Truncated { len, expected });
    }
    if len > expected {
        return Err(Refusal::TrailingBytes { len, expected });
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
    let entries = &bytes[HEADER_LEN..body_end];
    let slots = header.slot_count();
    let mut prev: Option<u64> = None;
    for (index, raw) in entries.chunks_exact(ENTRY_LEN).enumerate() {
        let index = index as u64;
        let (e, low) = read_entry(raw);
        let bad = |problem| Err(Refusal::BadEntry { index, problem });
        if e.slot >= slots {
            return bad(EntryProblem::SlotOutOfRange);
        }
        if prev.is_some_and(|p| e.slot <= p) {
            return Err(Refusal::UnsortedEntries { index });
        }
        prev = Some(e.slot);
        if low != 0 {
            return bad(EntryProblem::ReservedBits);
        }
        match header.kind {
            SnapshotKind::Keyed if e.tag == 0 => return bad(EntryProblem::NoTag),
            SnapshotKind::Direct if e.tag != 0 => return bad(EntryProblem::TagInDirect),
            _ => {}
        }
        if e.state == 0 {
            return bad(EntryProblem::ZeroState);
        }
    }
    Ok(View { header, entries })
}

/// Encodes a header and its entries (the entry count is the header's).
pub(crate) fn encode(
    header: &SnapshotHeader,
    entries: impl Iterator<Item = SnapshotEntry>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(usize::try_from(header.file_len()).unwrap_or(0));
    header.write(&mut out);
    for e in entries {
        write_entry(&mut out, e);
    }
    seal(&mut out);
    out
}
