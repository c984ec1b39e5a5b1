//! Saving and restoring a keyed limiter's table.

use super::*;

impl<C: Clock> Limiter<C, MemoryStore<C>> {
    /// Saves every live key's state to `path`, atomically (the format is in the
    /// repository's `FORMAT.md`): the file at `path` is either the previous one or
    /// the new one, whole, with mode 0600 (it holds the hash seeds).
    ///
    /// Other threads may keep checking meanwhile; each saved entry is a state the
    /// key had at some moment during the save.
    ///
    /// # Errors
    ///
    /// [`SnapshotError::Io`] if the file system fails: the previous file, if any,
    /// is intact and no temporary file is left, except after a failure of the
    /// final directory sync (`op` "sync directory"), when the new file is already
    /// in place but its name may not survive a crash.
    pub fn snapshot_to(&self, path: impl AsRef<Path>) -> Result<SnapshotInfo, SnapshotError> {
        let path = path.as_ref();
        let now = self.clock.now();
        format::saved_in_timeline(now).map_err(|r| SnapshotError::refused(path, r))?;
        let (p, quota) = self.params.load_with_quota();
        io::write_atomic_streamed(path, |sink| {
            save::stream_table(self.store.table(), self.store.logs(), &p, quota, now, sink)
        })
    }

    /// Replaces every key's state with the snapshot at `path`.
    ///
    /// The whole file is checked first (magic, version, lengths against the file's
    /// size, checksum, hash fingerprint, entries; then kind, algorithm and table
    /// shape against this limiter); on any error the limiter is unchanged. A file
    /// saved under another quota is restored with its states reinterpreted as
    /// [`set_quota`](Self::set_quota) keeps them, and clamped to what this
    /// limiter's quota can produce (see `FORMAT.md`).
    /// Then the table is emptied, adopts the **file's** hash seeds (so its keys are
    /// found where they were saved) and the entries are installed. The file's
    /// contents replace the limiter's: keys the limiter held
    /// that the file does not are forgotten. Entries that expired since the save are
    /// dropped; states further ahead of the clock than the algorithm allows are
    /// clamped. Statistics and capacity are kept.
    ///
    /// Restoring is meant for startup, before the limiter serves. It may run while other threads
    /// check, but those checks are not ordered with it: one may see its key in the
    /// old state, the new one or absent, and a key checked (and so inserted) during
    /// the restore can end up with its state split between two slots until one
    /// expires.
    ///
    /// # Errors
    ///
    /// [`SnapshotError::Io`] if the file cannot be read, `Refused` with the
    /// [`Refusal`] if it cannot be restored into this limiter.
    pub fn restore_from(&self, path: impl AsRef<Path>) -> Result<SnapshotInfo, SnapshotError> {
        let path = path.as_ref();
        let refused = |r| SnapshotError::refused(path, r);
        let slots = self.store.table().slot_count() as u64;
        let bytes = io::read(path, |h| {
            if h.entry_count > slots {
                // Larger than any file for this limiter: say why without reading it.
                self.check_header(h)?;
                return Err(Refusal::TooManyEntries {
                    entries: h.entry_count,
                    slots: self.store.table().slot_count() as u64,
                });
            }
            Ok(())
        })?;
        self.restore_bytes(&bytes).map_err(refused)
    }

    fn shape(&self) -> (u64, u32) {
        (self.store.table().group_count() as u64, GROUP_SLOTS as u32)
    }

    fn check_header(&self, h: &SnapshotHeader) -> Result<(), Refusal> {
        check_against(h, SnapshotKind::Keyed, self.params.algorithm())?;
        if (h.group_count, h.slots_per_group) != self.shape() {
            return Err(Refusal::CapacityMismatch {
                file: (h.group_count, h.slots_per_group),
                limiter: self.shape(),
            });
        }
        Ok(())
    }

    cfg_fuzzing! {
        /// The file's bytes for the current state.
        pub(crate) fn snapshot_bytes(&self) -> Result<(Vec<u8>, SnapshotInfo), Refusal> {
            let now = self.clock.now();
            format::saved_in_timeline(now)?;
            let estimate = self.store.capacity();
            let (p, quota) = self.params.load_with_quota();
            Ok(save::encode_table(
                self.store.table(),
                self.store.logs(),
                &p,
                quota,
                now,
                estimate,
            ))
        }
    }

    /// Restores from a file's bytes; on error, changes nothing.
    pub(crate) fn restore_bytes(&self, bytes: &[u8]) -> Result<SnapshotInfo, Refusal> {
        let view = format::decode(bytes)?;
        let h = view.header;
        self.check_header(&h)?;
        // Nothing can fail from here on: `decode` checked every entry, and
        // `check_header` that the file's slots are this table's.
        let now = self.clock.now();
        let mut info = SnapshotInfo {
            entries: h.entry_count,
            bytes: bytes.len() as u64,
            saved_at: h.saved_at,
            ..SnapshotInfo::default()
        };
        let p = &self.params.load();
        let file_p = file_params(&h, p);
        let table = self.store.table();
        table.set_seeds(h.seeds);
        let Some(logs) = self.store.logs() else {
            let live = view.word_entries().filter_map(|(slot, tag, state)| {
                match restore_word(&file_p, p, state, now) {
                    Restored::Expired => {
                        info.expired += 1;
                        None
                    }
                    Restored::Live { state, clamped } => {
                        info.restored += 1;
                        info.clamped += u64::from(clamped);
                        Some((slot as usize, tag, state, ()))
                    }
                }
            });
            table.replace_all(live, |_, _| {});
            return Ok(info);
        };
        let mut times = Vec::new();
        let live = view.entries().filter_map(|e| {
            let clamped = judge_log(p, e.log, now, &mut times);
            let Some(&newest) = times.last() else {
                info.expired += 1;
                return None;
            };
            info.restored += 1;
            info.clamped += u64::from(clamped);
            Some((e.slot as usize, e.tag, newest + 1, e.log))
        });
        // A restored key's log is written before its slot is published; every other
        // slot's log is emptied and disowned.
        let mut log_times = Vec::new();
        table.replace_all(live, |idx, installed| match installed {
            Some((slot, log)) => {
                judge_log(p, log, now, &mut log_times);
                logs.at(idx).install(&log_times, slot.owner_stamp());
            }
            None => logs.at(idx).install(&[], 0),
        });
        Ok(info)
    }
}
