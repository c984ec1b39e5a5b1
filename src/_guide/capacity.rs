//! # Capacity, memory and a full table
//!
//! A keyed [`Limiter`](crate::Limiter) allocates all its memory when it is built
//! and never allocates again, whatever keys arrive. This part says how much that
//! is, when a key's room is given back, and what happens when there is none.
//!
//! # Capacity and memory
//!
//! The capacity (the builder's `capacity(keys)`, default `DEFAULT_CAPACITY` =
//! 65,536) is the number of keys with live state the limiter holds at once. The
//! table is an array of 16-byte slots (a key's tag beside its 8-byte state word) in
//! groups of 8 (128 bytes, two cache lines), with 1.46 slots per key of capacity:
//!
//! ```text
//! groups = max(ceil(floor(capacity * 146 / 100) / 8), 1024)
//! slots  = groups * 8
//! bytes  = groups * 128          (about 23.4 bytes per key of capacity)
//! ```
//!
//! | capacity | slots | groups | table bytes | per key |
//! |---|---|---|---|---|
//! | 65,536 (default) | 95,688 | 11,961 | 1,531,008 (1.46 MiB) | 23.36 B |
//! | 1,000,000 | 1,460,000 | 182,500 | 23,360,000 (22.3 MiB) | 23.36 B |
//!
//! The smallest table is 1024 groups (128 KiB), which covers every capacity up to
//! 5,611; it keeps enough bits of a key's group in its identity (see
//! [`identity`](super::identity)). `memory_bytes()` adds the statistics counters
//! (65 shards of 128 bytes, so that counting threads never share a cache line) and
//! the limiter itself (a few hundred bytes). A capacity whose table size overflows,
//! or whose allocation is refused, is
//! [`BuildError::CapacityTooLarge`](crate::BuildError::CapacityTooLarge); a
//! capacity of 0 is [`BuildError::ZeroCapacity`](crate::BuildError::ZeroCapacity).
//! The resident memory a running process actually gains per key is measured in
//! BENCHMARKS.md.
//!
//! A keyed `SlidingWindowLog` also allocates, at build, a log for every slot: a
//! 16-byte head and `L` 8-byte entries, `slots * (16 + 8*L)` bytes more. For
//! `L = 100` that is 1.46 × 816 ≈ 1,191 bytes per key on top of the 23.4 (78,081,408
//! bytes for the default capacity's 95,688 slots).
//!
//! # When a key's room is given back
//!
//! A key's state expires when it means the same as no state: the bucket is full
//! again; the window (for the sliding-window counter, the following window) has
//! ended; the log's newest entry has left the period. An expired slot is reused by
//! the next new key that needs it, or emptied at once by `purge_expired()`.
//! `reset(key)` frees a key's slot; `len()` counts the live keys (a scan of the
//! whole table, approximate while other threads check).
//!
//! # Where a new key goes
//!
//! A key may live in any of 16 slots: the 8 of each of its two candidate groups,
//! one group in each half of the table. A new key takes an empty slot there if one
//! exists, in the less loaded of its two groups (the left one on a tie), and there
//! the free slot nearest its *home* (a slot chosen from its hash: the home, the
//! rest of its cache line, then the other line, the order lookups search in).
//! Failing that it takes the slot whose state expired longest ago.
//!
//! Going to the less loaded group, the left one on a tie, is Vöcking's "always go
//! left" d-left placement: it keeps the groups so even that a table holds its
//! capacity, and somewhat more, without evicting anyone. BENCHMARKS.md records the
//! fills of a million-key table that show it, with the test that repeats them.
//!
//! # When the table is full
//!
//! When all 16 candidate slots hold live keys, the [`FullPolicy`](crate::FullPolicy)
//! decides:
//!
//! * [`FullPolicy::EvictSoonestExpiring`](crate::FullPolicy::EvictSoonestExpiring)
//!   (the default): the live key whose state expires soonest, the one with the
//!   least left to enforce, is evicted and the new key takes its slot. The evicted
//!   key starts from a full quota on its next request. Evictions are counted in
//!   [`Stats::evicted`](crate::Stats::evicted).
//! * [`FullPolicy::Deny`](crate::FullPolicy::Deny) (the builder's
//!   `full_policy(FullPolicy::Deny)`): keys with live state are never displaced.
//!   The new key is denied (counted in [`Stats::denied`](crate::Stats::denied))
//!   with `remaining() == 0` and a `retry_after()` of the time until the first of
//!   those 16 states expires, when a slot frees up.
//!
//! Either way, a check that is refused for a new key takes no slot: the table
//! claims one only to install a new state, and `peek` never claims one. If every
//! candidate slot is in the middle of another thread's insertion of another key,
//! the check is denied with a `retry_after` of 1 ns rather than wait for those
//! threads: a check never waits on another thread.
//!
//! Which policy to choose: eviction keeps every client served and forgets the
//! client closest to being forgotten anyway, so it suits limits that protect a
//! server from overload. `Deny` never lets a flood of new keys reset the state of
//! clients already limited, so it suits limits that must hold for each key (login
//! attempts, paid quotas), at the price of refusing newcomers while the table is
//! full. A table sized with headroom for the live clients rarely reaches either.
//!
//! `cargo run --release --example per_client` fills a table past its capacity under
//! each policy and prints what happens.
