//! Saving a keyed table: one pass that encodes every live confirmed slot, and a
//! second that proves no key was saved twice (or removes the copies).
//!
//! The save runs while other threads check, so a key can move while the scan
//! runs: reset (or evicted) after the scan read its slot, then back in a slot the
//! scan has yet to read. Restoring both would put one key in two slots, which the
//! table must never hold. The second pass re-reads each saved slot: see
//! [`moved_tags`] for why that finds every such key.

use super::format::{
    self, SnapshotEntry, SnapshotHeader, SnapshotKind, ENTRY_LEN, HEADER_LEN, VERSION,
};
use super::SnapshotInfo;
use crate::algorithm::Params;
use crate::clock::Nanos;
use crate::quota::Quota;
use crate::table::slot::{Slot, TAG_BITS};
use crate::table::{Table, GROUP_SLOTS};

/// Bits of the slot's meta word below the tag (version and pending bit): kept
/// per saved entry (one byte) so that the second pass can tell whether the slot
/// changed owner.
const LOW_BITS: u32 = 64 - TAG_BITS;
const _: () = assert!(LOW_BITS <= 8);

#[cfg(test)]
type ScanHook = Box<dyn FnMut(&Table, usize)>;

#[cfg(test)]
std::thread_local! {
    /// Runs after each saved slot is read (tests move keys in the middle of a scan).
    pub(crate) static SCAN_HOOK: core::cell::RefCell<Option<ScanHook>> = const { core::cell::RefCell::new(None) };
}

/// The snapshot file of `table` at `now`. `estimate`: how many keys to make room for.
pub(crate) fn encode_table(
    table: &Table,
    p: &Params,
    quota: Quota,
    now: Nanos,
    estimate: usize,
) -> (Vec<u8>, SnapshotInfo) {
    let mut header = SnapshotHeader {
        version: VERSION,
        kind: SnapshotKind::Keyed,
        algorithm: p.algorithm,
        quota,
        slots_per_group: GROUP_SLOTS as u32,
        group_count: table.group_count() as u64,
        seeds: table.seeds(),
        fingerprint: format::fingerprint(table.seeds()),
        saved_at: now,
        // Written once the count is known.
        entry_count: 0,
    };
    let estimate = estimate.min(table.slot_count());
    // Encoded straight into the file's buffer: at a million keys a second copy
    // costs as much as the scan.
    let mut out = Vec::with_capacity(HEADER_LEN + estimate * ENTRY_LEN + format::CRC_LEN);
    header.write(&mut out);
    let mut lows: Vec<u8> = Vec::with_capacity(estimate);
    let mut expired = 0;
    for (idx, s) in table.entries() {
        #[cfg(test)]
        SCAN_HOOK.with(|h| {
            if let Some(f) = h.borrow_mut().as_mut() {
                f(table, idx);
            }
        });
        let state = s.state();
        if state == 0 {
            // A key claimed and not yet admitted: it holds no state.
            continue;
        }
        if p.word_expires_at(state) <= now {
            expired += 1;
            continue;
        }
        format::write_entry(
            &mut out,
            SnapshotEntry {
                slot: idx as u64,
                tag: s.tag(),
                state,
            },
        );
        lows.push((s.meta() & ((1 << LOW_BITS) - 1)) as u8);
    }
    let moved = moved_tags(table, &out[HEADER_LEN..], &lows);
    let duplicates = keep_latest(&mut out, &moved, p);
    header.entry_count = ((out.len() - HEADER_LEN) / ENTRY_LEN) as u64;
    out[format::ENTRY_COUNT_AT..HEADER_LEN].copy_from_slice(&header.entry_count.to_le_bytes());
    format::seal(&mut out);
    let info = SnapshotInfo {
        entries: header.entry_count,
        expired,
        duplicates,
        bytes: out.len() as u64,
        saved_at: now,
        ..SnapshotInfo::default()
    };
    (out, info)
}

/// The tags of saved entries whose slot no longer has the owner it had when it
/// was read, sorted and unique.
///
/// Why this finds every key saved twice: a key owns at most one confirmed slot at
/// any moment. Say the scan read it in slots `i` and `j` (at times `s_i < s_j`)
/// and both still have that owner (the same tag and version: the version changes
/// with every change of owner) when re-read here (at `t_i` and `t_j`, both after
/// every read of the scan). Then the key owned `i` throughout `[s_i, t_i]` and `j`
/// throughout `[s_j, t_j]`, and those overlap: two slots at once. So at least one
/// of the two changed owner, and its tag is in the list. (A 7-bit version comes
/// back only after 64 changes of owner of one slot during one save.)
fn moved_tags(table: &Table, entries: &[u8], lows: &[u8]) -> Vec<u64> {
    let mut moved = Vec::new();
    for (raw, &low) in entries.chunks_exact(ENTRY_LEN).zip(lows) {
        let e = format::read_entry(raw).0;
        let meta = Slot(table.slot_word(e.slot as usize)).meta();
        if meta != (e.tag << LOW_BITS | u64::from(low)) {
            moved.push(e.tag);
        }
    }
    moved.sort_unstable();
    moved.dedup();
    moved
}

/// Of the entries (after the header in `out`) whose tag is in `moved` (sorted),
/// keeps for each tag only the one whose state expires last, the more restrictive
/// of a moved key's states (ties: the larger state); compacts the entries in place
/// and returns how many it dropped. Two distinct keys with one 56-bit tag among
/// the moved ones (probability about moved × n / 2^56) lose one of the two states.
pub(crate) fn keep_latest(out: &mut Vec<u8>, moved: &[u64], p: &Params) -> u64 {
    if moved.is_empty() {
        return 0;
    }
    let n = (out.len() - HEADER_LEN) / ENTRY_LEN;
    let at = |i: usize| HEADER_LEN + i * ENTRY_LEN;
    // Most entries did not move: a bitmap of the moved tags' low bits (tags are
    // hash bits) spares them the binary search.
    let bits = (moved.len() * 64).next_power_of_two();
    let mut filter = vec![0u64; bits.div_ceil(64)];
    let bit = |t: u64| (t as usize) & (bits - 1);
    for &t in moved {
        filter[bit(t) / 64] |= 1 << (bit(t) % 64);
    }
    let mut hits: Vec<(u64, usize)> = (0..n)
        .filter_map(|i| {
            let e = format::read_entry(&out[at(i)..at(i + 1)]).0;
            let b = bit(e.tag);
            (filter[b / 64] >> (b % 64) & 1 == 1 && moved.binary_search(&e.tag).is_ok())
                .then_some((e.tag, i))
        })
        .collect();
    hits.sort_unstable();
    let mut drop: Vec<usize> = Vec::new();
    for run in hits.chunk_by(|a, b| a.0 == b.0) {
        if run.len() < 2 {
            continue;
        }
        let rank = |&(_, i): &(u64, usize)| {
            let state = format::read_entry(&out[at(i)..at(i + 1)]).0.state;
            (p.word_expires_at(state), state)
        };
        let keep = run.iter().max_by_key(|x| rank(x)).map(|x| x.1);
        drop.extend(run.iter().map(|x| x.1).filter(|&i| Some(i) != keep));
    }
    if drop.is_empty() {
        return 0;
    }
    drop.sort_unstable();
    let mut gone = drop.iter().peekable();
    let mut kept = 0;
    for i in 0..n {
        if gone.next_if(|&&d| d == i).is_some() {
            continue;
        }
        if kept != i {
            out.copy_within(at(i)..at(i + 1), at(kept));
        }
        kept += 1;
    }
    out.truncate(at(kept));
    drop.len() as u64
}
