//! # Stores: the table as a key-value store, and the backend contract
//!
//! A keyed [`Limiter`](crate::Limiter) keeps its states in a store. The one it
//! builds for itself is `MemoryStore`, the lock-free table described in
//! [`capacity`](super::capacity) and [`identity`](super::identity). This part
//! describes the two contracts around it: the key-value `Backend` contract that
//! `MemoryStore` offers for data that lives beside the limiters, and the
//! `StateStore` contract a limiter needs from any store.
//!
//! # The key-value contract (`Backend`)
//!
//! `MemoryStore` can be used directly as a key-value store, for counters and flags
//! that live beside the limiters (failed logins, a ban list) with the same bounded
//! memory. Every operation is atomic on its key and lock-free. An entry is a
//! 32-bit value and an expiry, packed with the key's tag into one 16-byte slot, so
//! capacity, memory and the [`FullPolicy`](crate::FullPolicy) work exactly as for
//! a limiter.
//!
//! | operation | what `MemoryStore` does |
//! |---|---|
//! | `get(key)` | `Some(value)` if the key has an entry that has not expired, else `None` |
//! | `set(key, value, ttl)` | replaces the value and the expiry; `value > u32::MAX` is `ValueTooLarge` |
//! | `delete(key)` | removes the entry; `true` if and only if it was live |
//! | `exists(key)` | `get(key)` is `Some` |
//! | `increment(key, by, ttl)` | adds `by` to the live value (0 if none) and returns the sum; a new (or expired) key gets the `ttl`, a live key keeps its expiry (Redis `INCRBY` plus `EXPIRE NX`); a sum above `u32::MAX` is `Overflow` and changes nothing |
//! | `clear()` | empties every slot |
//! | `close()` | nothing (the memory goes when the store is dropped) |
//!
//! Expiry:
//!
//! * A TTL is rounded up to whole seconds: the entry expires at
//!   `ceil((now + ttl) / 1 s)` seconds on the [timeline](super::time), so it lives
//!   at least `ttl` and less than `ttl + 1 s`.
//! * `ttl = None` never expires; `Some(Duration::ZERO)` is `ZeroTtl`.
//! * A new key that finds no room is `Full` under
//!   [`FullPolicy::Deny`](crate::FullPolicy::Deny) (`MemoryStore::with_full_policy`);
//!   under eviction the entry that expires soonest goes, and entries without a TTL
//!   go last.
//!
//! The operations and their meanings follow Redis's, so that a store on Redis can
//! offer the same contract with the same results.
//!
//! # What a limiter needs from its store (`StateStore`)
//!
//! The keyed limiter is generic over its store (`Limiter<C, S>`, monomorphized:
//! there is no dynamic dispatch in a check). A store offers three operations on a
//! key's 64-bit state word:
//!
//! * `transition(key, now, expires, admit)` runs the pure `admit` function on the
//!   key's state word (0 if it has none) and installs its answer atomically,
//!   running `admit` again if the word changed meanwhile; `expires` tells the
//!   store when a word means the same as none, so that its room may be reused.
//! * `state(key)` reads a key's word; `forget(key)` drops it.
//!
//! The algorithms never touch an atomic and the store never knows what a state
//! word means beyond "expired at time X", which is what keeps each testable alone.
//! The builder's `build_on(store)` builds a limiter on any store. A store that
//! cannot keep a per-key log refuses a keyed `SlidingWindowLog` with
//! [`BuildError::NotKeyed`](crate::BuildError::NotKeyed).
//!
//! # Redis (feature `redis`)
//!
//! `ratecell::redis::RedisStore` offers the same seven operations on
//! Redis, async, with the results in the table above: 32-bit values, expiries
//! rounded up to the whole second (on the server's clock), an increment that keeps
//! a live key's expiry, an overflow that changes nothing. One behavioural suite
//! (`tests/store_contract.rs`) runs against both stores. A call that does not
//! answer within the store's timeout is
//! [`BackendError::Unavailable`](crate::store::BackendError::Unavailable).
//!
//! `RedisLimiter` is not a `StateStore`: a check
//! there is one Lua script on the server, which reads the state, decides and
//! writes, atomically, on the server's clock; the documentation of the
//! `ratecell::redis` module says how keys are named, what each state looks like in
//! Redis and when it expires, what a check answers when Redis does not, and what
//! the local deny cache trades.
//!
//! In the HTTP layer (features `tower` and `redis`), `Policy::redis(name, lim)`
//! makes a `RedisLimiter` one of the layer's policies. The layer then decides
//! each request asynchronously (a layer of local policies alone keeps its
//! synchronous path): it peeks the local policies, checks Redis (peeking first
//! when it holds several Redis policies), then checks the local policies, so a
//! request one policy denies consumes from none, except that a Redis check cannot
//! be given back when a local policy denies in a race after it: the stack may
//! admit less than each policy alone, never more. When Redis does not answer, the
//! limiter's failure policy decides: open admits the request (the other policies
//! still apply), closed answers 503 with `Retry-After: 1`; the layer counts the
//! request as `failed`. The example server's `--redis URL` builds its policies
//! this way, so servers given the same URL share their limits.
