//! The 120-byte header: encoding, and decoding with every internal check.

use super::*;

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
            return Err(Refusal::BadHeader(HeaderProblem::ReservedFlags));
        }
        let (limit, period, burst) = (u32_at(bytes, 12), u64_at(bytes, 16), u32_at(bytes, 24));
        let explicit = flags & FLAG_EXPLICIT_BURST != 0;
        if !explicit && burst != limit {
            return Err(Refusal::BadHeader(HeaderProblem::BurstWithoutFlag));
        }
        let quota = Quota::from_nanos(limit, period, explicit.then_some(burst))
            .map_err(|_| Refusal::BadHeader(HeaderProblem::InvalidQuota))?;
        if Params::new(algorithm, &quota).is_err() {
            return Err(Refusal::BadHeader(HeaderProblem::QuotaUnfitForAlgorithm));
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
                    return Err(Refusal::BadHeader(HeaderProblem::NoSlots));
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
                    return Err(Refusal::BadHeader(HeaderProblem::DirectTableFields));
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
