//! # Identity, collisions and HashDoS
//!
//! A keyed [`Limiter`](crate::Limiter) does not store keys: it stores a tag cut
//! from each key's hash. This part says exactly when two keys are confused, how
//! likely that is, and what someone who chooses keys on purpose can do.
//!
//! # Identity
//!
//! Each key is hashed to 64 bits with `ahash`, keyed by four 64-bit hash keys
//! drawn for each limiter. A slot stores a 56-bit tag: the hash's low 55 bits with
//! a marker bit set, so that 0 means "empty". The first candidate group is taken
//! from the hash's high bits, mapped onto the left half of the groups
//! (multiply-shift); with at least 512 groups there (1024 in all, the smallest
//! table), it determines the 9 high bits the tag leaves out, so two keys with the
//! same tag and the same first group have the same 64-bit hash. The second group,
//! in the right half, comes from a bijective remix of the same hash.
//!
//! Identity is therefore exactly the 64-bit hash. A larger table does not add
//! bits, because the group index and the tag are cut from the same hash.
//!
//! # Collisions
//!
//! Two live keys are confused (the second reads and updates the first's state, so
//! they share one quota) when their 64-bit hashes are equal, or when their tags are
//! equal (2^-55) and one key's slot lies in a group the other searches. Their first
//! groups must then differ (same first group and same tag means same hash), and a
//! first group is never a second one, so it is their second groups that coincide:
//! a chance of 2/groups, as the right half holds half the groups. For `n` live keys:
//!
//! ```text
//! p ≈ n²/2 · (2^-64 + 2^-55 · 2/groups)
//! ```
//!
//! At `n` = 1,000,000 (182,500 groups): `5·10^11 · (5.42·10^-20 + 2.78·10^-17 ·
//! 1.10·10^-5)` = 2.71·10^-8 + 0.015·10^-8 ≈ **2.7·10^-8**: one chance in 37
//! million that any two of a million live keys share a quota. A collision never
//! affects memory safety or any other key.
//!
//! Keys of different types that hash alike are the same key: `Hash` for `str` and
//! for `String` agree, and nothing separates `"42"` the user from `"42"` the API
//! token. Keep key spaces apart with a prefix (`"user:42"`) or a tuple
//! (`("user", 42)`), or use one limiter per kind of key.
//!
//! # HashDoS
//!
//! Someone who can choose the keys (a client choosing its user name, a botnet
//! choosing addresses) might try to make many keys land in the same groups, so
//! that they evict each other or other clients. ratecell's stance:
//!
//! * **Random hash keys per limiter.** `build()` (and `MemoryStore::new`) draws
//!   the four hash keys from `ahash::RandomState::new()`: with the default `std`
//!   feature that is keyed by 64 bytes from the operating system (getrandom, once
//!   per process) and differs per limiter. Whoever does not know them cannot
//!   compute which keys share groups.
//! * **Bounded search.** A key is only ever looked for, and inserted, in its two
//!   128-byte groups. Crafted keys that do share groups can at worst evict each
//!   other (or, under [`FullPolicy::Deny`](crate::FullPolicy::Deny), keep other
//!   new keys out of those 16 slots until states expire); every other group is
//!   untouched.
//! * **No growth.** A flood of new keys never allocates, rehashes or resizes:
//!   memory is what `build` allocated.
//! * **Fixed hash keys only on purpose.** The builder's `hash_seeds([u64; 4])` fixes
//!   them: for tests and reproducible examples (a restore adopts the file's own).
//!   Without the `std` feature, `ahash` has no operating-system randomness (its
//!   keys are fixed constants varied by a memory address), so pass keys from your
//!   own random source to `hash_seeds`.
//!
//! A snapshot file holds the hash keys of the table it was saved from, which is
//! why it is written with mode 0600 (see [`snapshots`](super::snapshots)).
