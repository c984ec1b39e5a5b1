//! Entries: the gap to the previous slot, the key's tag, and its state or a log's
//! times, each number stored relative to a floor so that it is small.

use super::*;

/// What entries look like under a header: which fields they have, and the floors
/// their numbers are stored relative to.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EntryCodec {
    keyed: bool,
    /// `Some(L)` for the sliding-window log: entries hold up to `L` times.
    pub(super) log_limit: Option<u64>,
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
    pub(super) fn min_entry_len(&self) -> u64 {
        let key = if self.keyed { 1 + TAG_LEN as u64 } else { 0 };
        key + if self.log_limit.is_some() { 2 } else { 1 }
    }

    /// The most bytes an entry can take.
    pub(super) fn max_entry_len(&self) -> u64 {
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
    pub(super) fn put_key(&self, out: &mut Vec<u8>, next_slot: u64, slot: u64, tag: u64) {
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
    pub(super) fn get<'a>(
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
    pub(super) fn get_word(
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
    pub(super) fn get_key(
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

pub(super) enum EntryError {
    Truncated,
    Bad(EntryProblem),
}

/// Why the varint at `at` did not decode: the bytes ran out mid-varint, or it is
/// malformed.
#[cold]
pub(super) fn varint_error(body: &[u8], at: usize) -> EntryError {
    let rest = &body[at.min(body.len())..];
    if rest.len() < VARINT_MAX as usize && rest.iter().all(|b| b & 0x80 != 0) {
        EntryError::Truncated
    } else {
        EntryError::Bad(EntryProblem::BadVarint)
    }
}
