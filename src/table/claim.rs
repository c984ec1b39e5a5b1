//! The claim protocol: finding a key's slot (helping a pending claim of it to a
//! resolution), claiming one for a new key, resolving two claims of the same key,
//! choosing the slot a new key takes, and updating a state in place.

use super::placement::SLOT_BITS;
use super::slot::{tag_of, Slot};
use super::{FullPolicy, Probe, Table, GROUP_SLOTS};
use crate::clock::Nanos;
use crate::sync::{AtomicU128, Ordering};
use crate::table::Transition;

impl Table {
    /// The key's confirmed slot, helping any pending claim of it to a resolution
    /// first. `None`: the key owns no slot.
    #[inline(always)]
    pub(crate) fn locate(&self, p: &Probe) -> Option<(usize, Slot)> {
        // Most keys sit at their first candidate: look there inline, and scan the
        // rest out of line.
        let home = p.groups[0] * GROUP_SLOTS + p.home(0);
        let s = self.load(home);
        if s.is_confirmed_for(p.tag) {
            return Some((home, s));
        }
        self.locate_slow(p)
    }

    /// `locate` over every candidate (see `locate`).
    #[inline(never)]
    fn locate_slow(&self, p: &Probe) -> Option<(usize, Slot)> {
        'again: loop {
            let mut pending = None;
            for idx in self.candidates(p) {
                let s = self.load(idx);
                if s.tag() == p.tag {
                    if !s.is_pending() {
                        return Some((idx, s));
                    }
                    pending.get_or_insert((idx, s));
                }
            }
            match pending {
                None => return None,
                Some((idx, s)) => {
                    self.resolve(p, idx, s);
                    continue 'again;
                }
            }
        }
    }

    /// Decides the pending claim `mine` at `mine_idx` (see the module docs).
    #[cold]
    fn resolve(&self, p: &Probe, mine_idx: usize, mine: Slot) {
        // Candidates before ours in the key's order beat ours; those after lose.
        let mut before_mine = true;
        for idx in self.candidates(p) {
            if idx == mine_idx {
                before_mine = false;
                continue;
            }
            loop {
                let other = self.load_latest(idx);
                if other.tag() != p.tag {
                    break;
                }
                if !other.is_pending() || before_mine {
                    // Confirmed elsewhere, or an earlier claim wins: give ours up.
                    // (A failure means someone already decided it.)
                    let _ = self.cas(mine_idx, mine, mine.emptied());
                    return;
                }
                // A later pending claim of the same key loses to ours.
                if self.cas(idx, other, other.emptied()).is_ok() {
                    break;
                }
            }
        }
        // A failure: killed by an earlier claim, or confirmed by a helper.
        let _ = self.cas(mine_idx, mine, mine.confirmed());
    }

    /// [`update`](Self::update) for the key of hash `h`, with the common case
    /// inline: the key sits confirmed in one of its two homes (most keys, and
    /// every check of a hot key), and only the state moves. That case needs no
    /// [`Probe`]; everything else goes out of line. (It finds what `update`
    /// finds, unless another key with the same tag sits in this key's second
    /// group, at the home or, for `scan_near`, nearer its home than this key
    /// sits to its own, while this key sits in its first group: a collision the
    /// identity bound in the module docs already counts.)
    ///
    /// A large table reads both homes at once: the two groups lie in different
    /// halves of a table far larger than the caches, and the two reads then wait
    /// for memory together rather than one after the other. A table that fits in
    /// the caches reads the second home only when the first does not hold the
    /// key, which touches half the lines (BENCHMARKS.md has both measured).
    ///
    /// A key at neither home is looked for by `scan_near`, still without a
    /// `Probe` or the full protocol.
    #[inline(always)]
    pub(crate) fn update_hash<E, A>(
        &self,
        h: u64,
        now: Nanos,
        policy: FullPolicy,
        expires: E,
        admit: A,
    ) -> Transition
    where
        E: Fn(u64) -> Nanos,
        A: Fn(u64) -> Option<u64>,
    {
        let tag = tag_of(h);
        // The homes, as `Probe::home` has them.
        let first = &self.groups[self.first_group(h)].slots[tag as usize % GROUP_SLOTS];
        let second =
            || &self.groups[self.second_group(h)].slots[(tag >> SLOT_BITS) as usize % GROUP_SLOTS];
        // Acquire (both): as in `load`.
        let early = self.read_both_homes.then(|| {
            let cell = second();
            (cell, Slot(cell.load(Ordering::Acquire)))
        });
        let holds = |s: Slot| s.is_confirmed_for(tag);
        let a = Slot(first.load(Ordering::Acquire));
        let ran = |seen| Transition::Ran { seen, evicted: 0 };
        if holds(a) {
            if let Some(seen) = Self::update_owned(first, a, &admit) {
                return ran(seen);
            }
        } else {
            let (cell, b) = early.unwrap_or_else(|| {
                let cell = second();
                (cell, Slot(cell.load(Ordering::Acquire)))
            });
            // Each path keeps its own copy of the update, which keeps the common
            // case free of the others' register moves.
            if holds(b) {
                if let Some(seen) = Self::update_owned(cell, b, &admit) {
                    return ran(seen);
                }
            } else if let Some((cell, s)) = self.scan_near(h, tag) {
                if let Some(seen) = Self::update_owned(cell, s, &admit) {
                    return ran(seen);
                }
            }
        }
        // The homes did not do: the full protocol, out of line.
        self.update(&self.probe_hash(h), now, policy, expires, admit)
    }

    /// The key's confirmed slot other than its homes, for `update_hash`: the
    /// rest of both groups, the two scanned side by side, each home line first
    /// (the order a claim fills a group in), so a key that missed its home is
    /// found after a few reads, mostly within the home's cache line. `None` when
    /// the key has no confirmed slot or a claim of it is pending (the full
    /// protocol resolves that). Read-only, so its order need not be the fixed
    /// one of `candidates` (at most one slot holds the key confirmed); the
    /// same-tag caveat of `update_hash` applies. Out of line and free of the
    /// caller's closures: one copy serves every algorithm.
    #[inline(never)]
    pub(super) fn scan_near(&self, h: u64, tag: u64) -> Option<(&AtomicU128, Slot)> {
        let first = &self.groups[self.first_group(h)].slots;
        let second = &self.groups[self.second_group(h)].slots;
        let homes = [
            tag as usize % GROUP_SLOTS,
            (tag >> SLOT_BITS) as usize % GROUP_SLOTS,
        ];
        for i in 1..GROUP_SLOTS {
            for (slots, home) in [(first, homes[0]), (second, homes[1])] {
                let cell = &slots[home ^ i];
                // Acquire: as in `load`.
                let s = Slot(cell.load(Ordering::Acquire));
                if s.tag() == tag {
                    return (!s.is_pending()).then_some((cell, s));
                }
            }
        }
        None
    }

    /// Runs `admit` in `cell`, which the key held confirmed as `cur`, until its
    /// answer is installed: the state it ran against; `None` if the key stops
    /// holding the cell meanwhile (the cell is then left as it was).
    #[inline(always)]
    fn update_owned<A>(cell: &AtomicU128, mut cur: Slot, admit: &A) -> Option<u64>
    where
        A: Fn(u64) -> Option<u64>,
    {
        loop {
            let Some(next) = admit(cur.state()) else {
                return Some(cur.state());
            };
            // AcqRel / Acquire: as in `cas` (the state is in the word, nothing
            // else is published).
            match cell.compare_exchange(
                cur.0,
                cur.with_state(next).0,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(cur.state()),
                // Same owner, same claim: only the state moved; go again.
                Err(now) if Slot(now).meta() == cur.meta() => cur = Slot(now),
                // The slot changed hands: the caller looks for the key again.
                Err(_) => return None,
            }
        }
    }

    /// Runs `admit` against the key's state (0 if it has none) until its answer is
    /// installed; claims a slot for a new key (never for one `admit` denies).
    /// Out of line: `update_hash` handles the common case before it.
    #[inline(never)]
    pub(crate) fn update<E, A>(
        &self,
        p: &Probe,
        now: Nanos,
        policy: FullPolicy,
        expires: E,
        admit: A,
    ) -> Transition
    where
        E: Fn(u64) -> Nanos,
        A: Fn(u64) -> Option<u64>,
    {
        let mut evicted = 0;
        loop {
            if let Some((idx, cur)) = self.locate(p) {
                match Self::update_owned(self.cell(idx), cur, &admit) {
                    Some(seen) => return Transition::Ran { seen, evicted },
                    None => continue,
                }
            }
            if admit(0).is_none() {
                // A new key that would be denied anyway takes no slot.
                return Transition::Ran { seen: 0, evicted };
            }
            match self.claim(p, now, policy, &expires) {
                Ok(victims) => evicted += victims,
                Err(free_at) => return Transition::Full { free_at },
            }
        }
    }

    /// One attempt to claim (and resolve) a slot for a key that has none: how many
    /// live keys it evicted, or `Err(free_at)` when there is no room. The caller
    /// looks the key up again either way (the claim may have lost to another).
    fn claim<E: Fn(u64) -> Nanos>(
        &self,
        p: &Probe,
        now: Nanos,
        policy: FullPolicy,
        expires: &E,
    ) -> Result<u32, Nanos> {
        match self.choose_slot(p, now, policy, expires) {
            Choice::Slot(idx, old, victim) => {
                let claim = old.claimed_by(p.tag);
                if self.cas(idx, old, claim).is_err() {
                    return Ok(0);
                }
                self.resolve(p, idx, claim);
                Ok(u32::from(victim))
            }
            Choice::Full(free_at) => Err(free_at),
            Choice::Busy => Ok(0),
        }
    }

    /// The key's confirmed slot, claiming (and confirming) one if it has none; or
    /// `Err(free_at)` if there is no room. Also: how many live keys were evicted.
    pub(crate) fn locate_or_claim<E: Fn(u64) -> Nanos>(
        &self,
        p: &Probe,
        now: Nanos,
        policy: FullPolicy,
        expires: E,
    ) -> Result<(usize, Slot, u32), Nanos> {
        let mut evicted = 0;
        loop {
            if let Some((idx, s)) = self.locate(p) {
                return Ok((idx, s, evicted));
            }
            evicted += self.claim(p, now, policy, &expires)?;
        }
    }

    /// Raises the state of slot `idx` to at least `state` if the slot still
    /// belongs to the ownership `owner` was read from; whether it did.
    pub(crate) fn raise_state(&self, idx: usize, owner: Slot, state: u64) -> bool {
        let mut cur = self.load(idx);
        loop {
            if cur.meta() != owner.meta() {
                return false;
            }
            if cur.state() >= state {
                return true;
            }
            match self.cas(idx, cur, cur.with_state(state)) {
                Ok(()) => return true,
                Err(now) => cur = now,
            }
        }
    }

    /// A slot for a new key: an empty one in the less loaded candidate group, else
    /// the slot whose state expired longest ago, else (under
    /// `EvictSoonestExpiring`) the live key that expires soonest.
    ///
    /// A confirmed slot whose state is still 0 belongs to a key whose owner is
    /// about to make its first admission; it looks expired but is not free (else
    /// two new keys could keep taking each other's slots), and it is evicted only
    /// as a last resort. Pending claims are never touched.
    fn choose_slot<E: Fn(u64) -> Nanos>(
        &self,
        p: &Probe,
        now: Nanos,
        policy: FullPolicy,
        expires: &E,
    ) -> Choice {
        let mut live = [0usize; 2];
        let mut empty: [Option<(usize, Slot)>; 2] = [None, None];
        // Among expired slots, the one dead longest: reusing a key that expired a
        // moment ago would make it pay for a new claim on its very next check.
        let mut dead: Option<(usize, Slot, Nanos)> = None;
        let mut victim: Option<(usize, Slot, Nanos)> = None;
        let mut fresh: Option<(usize, Slot)> = None;
        for idx in self.candidates(p) {
            let g = usize::from(idx / GROUP_SLOTS != p.groups[0]);
            let s = self.load(idx);
            if s.tag() == p.tag {
                // The key appeared since `locate` looked: go back and use it.
                return Choice::Busy;
            }
            if !s.is_owned() {
                empty[g].get_or_insert((idx, s));
                continue;
            }
            if s.is_pending() {
                live[g] += 1;
                continue;
            }
            if s.state() == 0 {
                live[g] += 1;
                fresh.get_or_insert((idx, s));
                continue;
            }
            let until = expires(s.state());
            if until <= now {
                if dead.is_none_or(|(_, _, d)| until < d) {
                    dead = Some((idx, s, until));
                }
            } else {
                live[g] += 1;
                if victim.is_none_or(|(_, _, v)| until < v) {
                    victim = Some((idx, s, until));
                }
            }
        }
        let preferred = usize::from(live[1] < live[0]);
        if let Some((idx, s)) = empty[preferred].or(empty[1 - preferred]) {
            return Choice::Slot(idx, s, false);
        }
        if let Some((idx, s, _)) = dead {
            return Choice::Slot(idx, s, false);
        }
        match policy {
            FullPolicy::EvictSoonestExpiring => {
                if let Some((idx, s)) = victim.map(|(i, s, _)| (i, s)).or(fresh) {
                    return Choice::Slot(idx, s, true);
                }
                // Every candidate is a pending claim of another key: answer "full
                // for now" rather than wait for those threads.
                Choice::Full(now)
            }
            FullPolicy::Deny => Choice::Full(victim.map_or(now, |(_, _, until)| until)),
        }
    }

    /// The key's state (0 if none), without changing anything.
    pub(crate) fn state_of(&self, p: &Probe) -> Option<u64> {
        self.locate(p).map(|(_, s)| s.state())
    }

    /// Forgets the key. Whether it owned a slot.
    pub(crate) fn remove(&self, p: &Probe) -> bool {
        loop {
            let Some((idx, s)) = self.locate(p) else {
                return false;
            };
            if self.cas(idx, s, s.emptied()).is_ok() {
                return true;
            }
        }
    }
}

enum Choice {
    Slot(usize, Slot, bool),
    Full(Nanos),
    Busy,
}
