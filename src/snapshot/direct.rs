//! Saving and restoring a direct limiter's one state.

use super::*;

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
            check_against(h, SnapshotKind::Direct, self.params.algorithm())
        })?;
        self.restore_bytes(&bytes)
            .map_err(|r| SnapshotError::refused(path, r))
    }

    pub(crate) fn snapshot_bytes(&self) -> Result<(Vec<u8>, SnapshotInfo), Refusal> {
        let now = self.clock.now();
        format::saved_in_timeline(now)?;
        let (p, quota) = self.params.load_with_quota();
        let file_p = Params::new(p.algorithm, &quota).unwrap_or(p);
        let mut header = SnapshotHeader {
            version: VERSION,
            kind: SnapshotKind::Direct,
            algorithm: p.algorithm,
            quota,
            slots_per_group: 0,
            group_count: 0,
            seeds: [0; 4],
            fingerprint: [0; 4],
            saved_at: now,
            entry_count: 0,
        };
        let codec = format::EntryCodec::new(&header);
        let mut entry = Vec::new();
        let word = match &self.cell {
            DirectCell::Word(cell) => Some(cell.load()),
            // Units held in leases count as taken: the file keeps the shared word.
            DirectCell::Sharded(cell) => Some(cell.shared_state()),
            DirectCell::Log(_) => None,
        };
        let had_state = match &self.cell {
            DirectCell::Word(_) | DirectCell::Sharded(_) => {
                let state = word.unwrap_or(0);
                if state != 0 && p.word_expires_at(state) > now {
                    let state = rebase::word(&p, &file_p, state, now);
                    codec.put_word(&mut entry, 0, 0, 0, state);
                }
                state != 0
            }
            DirectCell::Log(cell) => {
                let mut times = Vec::new();
                cell.log().live_times(0, 0, &mut times);
                let had = !times.is_empty();
                let floor = format::log_floor(&p, now);
                times.retain(|&t| t >= floor);
                // Only the newest L times can decide (a lowered quota).
                times.drain(..times.len().saturating_sub(p.limit as usize));
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
        let p = self.params.load();
        check_against(&h, SnapshotKind::Direct, p.algorithm)?;
        let file_p = file_params(&h, &p);
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
                DirectCell::Word(_) | DirectCell::Sharded(_) => {
                    match restore_word(&file_p, &p, e.state, now) {
                        Restored::Expired => None,
                        Restored::Live { state: s, clamped } => {
                            state = s;
                            Some(clamped)
                        }
                    }
                }
                DirectCell::Log(_) => {
                    let clamped = judge_log(&p, e.log, now, &mut times);
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
            DirectCell::Sharded(cell) => cell.store_shared(state),
            DirectCell::Log(cell) => cell.log().install(&times, 0),
        }
        Ok(info)
    }
}
