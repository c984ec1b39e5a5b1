//! A limiter's quota, changeable while other threads check: `set_quota` without a
//! lock or a pause on the check path.
//!
//! The compiled parameters live in a small ring of slots of atomic words, and
//! `current` names the published one by its ticket (slot `ticket % SLOTS`).
//!
//! * **Read** (every check): load `current` (Acquire), read the slot's words
//!   (Relaxed), an Acquire fence, then the slot's `seq` (Acquire): if it still holds
//!   `2·ticket`, the words are the ones published with that ticket. Otherwise a
//!   writer has since reused the slot (which takes `SLOTS - 1` further quota
//!   changes during this one read) and the read starts over at `current`, which
//!   the `seq` it saw guarantees to be newer (see `read`).
//!   A retry happens only because a `set_quota` made progress: lock-free.
//! * **Write** (`set_quota`, serialized among themselves by the `writer` word,
//!   which holds `2·ticket` of the published slot, plus one while a write runs):
//!   the new parameters are compiled from the build's (the encoding never
//!   changes, so nothing published need be read back); the next slot's `seq`
//!   goes odd (Release, then a Release fence, so that a reader that sees any new
//!   word also sees the odd `seq`), the words are written,
//!   `seq` becomes `2·ticket` (Release) and `current` the ticket (Release). The
//!   slot written is never the published one, so readers of the current quota are
//!   never disturbed; `seq` only grows, so a stale reader cannot mistake a reused
//!   slot for its own (no ABA).
//!
//! The algorithm and the state encoding (window radix, the log's ring) are fixed at
//! build, so every stored state keeps its meaning under every published slot.

use crate::algorithm::{Algorithm, Params, Unfit};
use crate::quota::Quota;
use crate::sync::{fence, spin_hint, AtomicU64, Ordering};

/// Slots in the ring: a stale read needs this many quota changes minus one to
/// complete during it before it must retry. Two under loom, so that a model with
/// two `set_quota` calls reaches the reuse of a slot a check is reading.
const SLOTS: usize = if cfg!(loom) { 2 } else { 4 };
/// Words per slot (see `pack`).
const WORDS: usize = 6;
const EXPLICIT_BURST: u64 = 1 << 63;

// A line of its own: a check reads `current`'s line and one slot's line, no more.
#[repr(C, align(64))]
struct Slot {
    seq: AtomicU64,
    words: [AtomicU64; WORDS],
}

// `repr(C)`: what a check reads first (`current`, the algorithm and the ring) on
// the first line, then the slots, then what only `set_quota` and tiers read.
#[repr(C, align(64))]
pub(crate) struct LiveParams {
    current: AtomicU64,
    algorithm: Algorithm,
    ring: u64,
    writer: AtomicU64,
    slots: [Slot; SLOTS],
    /// The parameters at build: their encoding (algorithm, window radix and
    /// period, the log's ring) is every published slot's.
    base: Params,
}

fn pack(p: &Params, q: &Quota) -> [u64; WORDS] {
    let explicit = if q.has_explicit_burst() {
        EXPLICIT_BURST
    } else {
        0
    };
    // limit and burst are u32; period, T, tau and the window are at most 2^62.
    [
        p.limit | p.burst << 32,
        p.period,
        p.t,
        p.tau,
        p.radix,
        p.window | explicit,
    ]
}

impl LiveParams {
    pub(crate) fn new(p: Params, q: &Quota) -> Self {
        let words = pack(&p, q);
        let slots = core::array::from_fn(|i| Slot {
            seq: AtomicU64::new(0),
            words: core::array::from_fn(|w| AtomicU64::new(if i == 0 { words[w] } else { 0 })),
        });
        Self {
            algorithm: p.algorithm,
            ring: p.ring,
            base: p,
            current: AtomicU64::new(0),
            writer: AtomicU64::new(0),
            slots,
        }
    }

    #[inline(always)]
    fn read(&self) -> [u64; WORDS] {
        // Acquire: pairs with the Release store of `current`: the slot's words and
        // `seq` for this ticket are visible.
        let mut ticket = self.current.load(Ordering::Acquire);
        loop {
            let slot = &self.slots[ticket as usize % SLOTS];
            // Relaxed: validated by `seq` below.
            let words: [u64; WORDS] =
                core::array::from_fn(|w| slot.words[w].load(Ordering::Relaxed));
            // Acquire fence: a word from a later writer makes the `seq` load below
            // see that writer's odd `seq` (its Release fence precedes its words).
            fence(Ordering::Acquire);
            // Acquire: a `seq` from a later writer (odd or not) makes the reload
            // below see at least the ticket published before that writer started.
            if slot.seq.load(Ordering::Acquire) == ticket.wrapping_mul(2) {
                return words;
            }
            // The slot was reused (after SLOTS - 1 quota changes during this one
            // read): the ticket published before its writer began is newer, and
            // its slot is not being written.
            // Acquire: as the first load.
            ticket = self.current.load(Ordering::Acquire);
        }
    }

    /// The parameters checks run under now.
    #[inline(always)]
    pub(crate) fn load(&self) -> Params {
        self.unpack(&self.read()).0
    }

    /// The parameters and the quota they came from, read together.
    pub(crate) fn load_with_quota(&self) -> (Params, Quota) {
        self.unpack(&self.read())
    }

    pub(crate) fn algorithm(&self) -> Algorithm {
        self.base.algorithm
    }

    /// The parameters at build, whose encoding every slot shares.
    pub(crate) fn base(&self) -> &Params {
        &self.base
    }

    #[inline(always)]
    fn unpack(&self, w: &[u64; WORDS]) -> (Params, Quota) {
        let (limit, burst) = (w[0] & u64::from(u32::MAX), w[0] >> 32);
        let p = Params {
            algorithm: self.algorithm,
            limit,
            period: w[1],
            burst,
            t: w[2],
            tau: w[3],
            radix: w[4],
            ring: self.ring,
            window: w[5] & !EXPLICIT_BURST,
        };
        let explicit = w[5] & EXPLICIT_BURST != 0;
        let q = Quota::from_valid_parts(limit as u32, p.period, explicit.then_some(burst as u32));
        (p, q)
    }

    /// Publishes `quota` for the next checks; the state encoding stays.
    pub(crate) fn replace(&self, quota: &Quota) -> Result<(), Unfit> {
        let next = self.base.retune(quota)?;
        // Concurrent set_quota calls wait for one another here (a few stores);
        // checks never wait.
        let published = loop {
            // Relaxed: the exchange below is what orders writers.
            let word = self.writer.load(Ordering::Relaxed);
            // Acquire: the previous writer's slot writes happen before ours.
            if word % 2 == 0
                && self
                    .writer
                    .compare_exchange(word, word + 1, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                break word / 2;
            }
            spin_hint();
        };
        let ticket = published.wrapping_add(1);
        self.publish(ticket, &next, quota);
        // Release: the next writer starts after this one's stores.
        self.writer.store(ticket.wrapping_mul(2), Ordering::Release);
        Ok(())
    }

    fn publish(&self, ticket: u64, next: &Params, quota: &Quota) {
        let slot = &self.slots[ticket as usize % SLOTS];
        // Release: a reader that sees this odd `seq` then sees the ticket
        // published before this write began. The Release fence after it: a
        // reader that loads any word written below sees this `seq` (or a later
        // one) after its Acquire fence, and retries.
        slot.seq
            .store(ticket.wrapping_mul(2).wrapping_add(1), Ordering::Release);
        fence(Ordering::Release);
        for (word, value) in slot.words.iter().zip(pack(next, quota)) {
            // Relaxed: published by the Release stores below.
            word.store(value, Ordering::Relaxed);
        }
        // Release: a reader that sees this ticket in `current` sees the words.
        slot.seq.store(ticket.wrapping_mul(2), Ordering::Release);
        // Release: publishes the slot; checks that load this ticket use it.
        self.current.store(ticket, Ordering::Release);
    }
}

impl core::fmt::Debug for LiveParams {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let (p, q) = self.load_with_quota();
        f.debug_struct("LiveParams")
            .field("quota", &q)
            .field("params", &p)
            .finish()
    }
}
