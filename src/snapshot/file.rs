//! A snapshot file read on its own, for inspection.

use super::*;

/// A snapshot file read and checked on its own (no limiter): for inspection.
///
/// [`read`](Self::read) makes every check a restore makes that does not depend on
/// a limiter: magic, version, header fields, length, checksum, hash fingerprint,
/// entries.
#[derive(Clone, Debug)]
pub struct SnapshotFile {
    header: SnapshotHeader,
    bytes: Vec<u8>,
}

impl SnapshotFile {
    /// Reads and checks the file at `path`.
    pub fn read(path: impl AsRef<Path>) -> Result<Self, SnapshotError> {
        let path = path.as_ref();
        let bytes = io::read(path, |_| Ok(()))?;
        Self::from_bytes(bytes).map_err(|r| SnapshotError::refused(path, r))
    }

    /// Checks a file's contents.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, Refusal> {
        let header = format::decode(&bytes)?.header;
        Ok(Self { header, bytes })
    }

    /// The header.
    pub fn header(&self) -> &SnapshotHeader {
        &self.header
    }

    /// The entries, in slot order.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = SnapshotEntry<'_>> + '_ {
        let body = &self.bytes[HEADER_LEN..self.bytes.len() - format::CRC_LEN];
        format::entries_in(&self.header, body)
    }

    /// How many entries would be restored at `now`, and how many dropped as
    /// expired.
    pub fn live_at(&self, now: Nanos) -> (u64, u64) {
        let Ok(p) = Params::new(self.header.algorithm, &self.header.quota) else {
            return (0, self.header.entry_count);
        };
        let mut times = Vec::new();
        let live = self
            .entries()
            .filter(|e| {
                if p.algorithm == Algorithm::SlidingWindowLog {
                    // Judged by its times, exactly as a restore does (the state word's
                    // expiry saturates at the end of the timeline; the times do not).
                    judge_log(&p, e.log, now, &mut times);
                    !times.is_empty()
                } else {
                    matches!(clamp::judge(&p, e.state, now), Restored::Live { .. })
                }
            })
            .count() as u64;
        (live, self.header.entry_count - live)
    }

    /// The file encoded again from its decoded fields (equal to the bytes read:
    /// the format has one encoding per content).
    pub fn to_bytes(&self) -> Vec<u8> {
        format::encode(&self.header, self.entries())
    }
}
