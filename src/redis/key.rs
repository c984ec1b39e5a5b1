//! Redis keys: a fixed, portable hash of the caller's key, under a prefix, inside a
//! hash tag.
//!
//! Every process sharing a limit must name a key the same way, whatever its build
//! or platform, so the in-memory tables' seeded hash will not do: keys are hashed
//! with 64-bit FNV-1a over the bytes their `Hash` implementation writes, integers
//! written little-endian (`usize` and `isize` as 64 bits). The Redis key is then
//! `{prefix}{{hash as 16 hex digits}}`: the braces make the hash a Cluster hash tag,
//! so each key's single slot is chosen by its hash alone. A [`Raw`] key is used as
//! its bytes instead (`{prefix}{{bytes}}`), for keys that programs in other
//! languages name too.

use core::hash::{Hash, Hasher};
use std::string::String;
use std::vec::Vec;

/// A key given as its bytes, used as they are: the Redis key is `prefix{bytes}`
/// (a byte `}` among them ends the Cluster hash tag early, which still places the
/// key in one slot).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Raw<'a>(pub &'a [u8]);

mod sealed {
    pub trait Sealed {}
}

/// What a Redis-backed limiter or store takes as a key: any `Hash` value (hashed
/// with the fixed hash of [`crate::redis`]) or [`Raw`] bytes.
pub trait RedisKey: sealed::Sealed {
    /// The Redis key under `prefix`, and the fixed hash that names the key in
    /// this process's tables.
    #[doc(hidden)]
    fn name(&self, prefix: &str) -> (Vec<u8>, u64);
}

impl<K: Hash + ?Sized> sealed::Sealed for K {}

impl<K: Hash + ?Sized> RedisKey for K {
    fn name(&self, prefix: &str) -> (Vec<u8>, u64) {
        let hash = key_hash(self);
        (redis_key(prefix, hash).into_bytes(), hash)
    }
}

impl sealed::Sealed for Raw<'_> {}

impl RedisKey for Raw<'_> {
    fn name(&self, prefix: &str) -> (Vec<u8>, u64) {
        let mut key = Vec::with_capacity(prefix.len() + self.0.len() + 2);
        key.extend_from_slice(prefix.as_bytes());
        key.push(b'{');
        key.extend_from_slice(self.0);
        key.push(b'}');
        let mut h = Fnv(OFFSET);
        h.write(self.0);
        (key, h.finish())
    }
}

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// 64-bit FNV-1a, integers little-endian.
pub(crate) struct Fnv(u64);

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(PRIME);
        }
    }
    fn write_u16(&mut self, n: u16) {
        self.write(&n.to_le_bytes());
    }
    fn write_u32(&mut self, n: u32) {
        self.write(&n.to_le_bytes());
    }
    fn write_u64(&mut self, n: u64) {
        self.write(&n.to_le_bytes());
    }
    fn write_u128(&mut self, n: u128) {
        self.write(&n.to_le_bytes());
    }
    fn write_usize(&mut self, n: usize) {
        self.write(&(n as u64).to_le_bytes());
    }
    fn write_i16(&mut self, n: i16) {
        self.write(&n.to_le_bytes());
    }
    fn write_i32(&mut self, n: i32) {
        self.write(&n.to_le_bytes());
    }
    fn write_i64(&mut self, n: i64) {
        self.write(&n.to_le_bytes());
    }
    fn write_i128(&mut self, n: i128) {
        self.write(&n.to_le_bytes());
    }
    fn write_isize(&mut self, n: isize) {
        self.write(&(n as i64).to_le_bytes());
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The fixed hash of `key` (see the module docs).
pub(crate) fn key_hash<K: Hash + ?Sized>(key: &K) -> u64 {
    let mut h = Fnv(OFFSET);
    key.hash(&mut h);
    h.finish()
}

/// The Redis key of a hashed key under `prefix`.
pub(crate) fn redis_key(prefix: &str, hash: u64) -> String {
    std::format!("{prefix}{{{hash:016x}}}")
}

/// Whether `prefix` can stand before a hash tag: braces would move the tag.
pub(crate) fn valid_prefix(prefix: &str) -> bool {
    !prefix.contains(['{', '}'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_fixed_and_documented() {
        // FNV-1a of the empty input is its offset basis; "a" is a published vector.
        let mut h = Fnv(OFFSET);
        h.write(b"a");
        assert_eq!(h.finish(), 0xaf63_dc4c_8601_ec8c);
        // A str hashes its bytes then 0xff, as `Hash for str` writes them.
        let mut h = Fnv(OFFSET);
        h.write(b"user:42");
        h.write_u8(0xff);
        assert_eq!(key_hash("user:42"), h.finish());
        assert_eq!(key_hash(&7u64), {
            let mut h = Fnv(OFFSET);
            h.write(&[7, 0, 0, 0, 0, 0, 0, 0]);
            h.finish()
        });
        assert_eq!(redis_key("rc:", 0xab), "rc:{00000000000000ab}");
        assert!(!valid_prefix("a{b"));
        assert_eq!(Raw(b"user:42").name("rc:").0, b"rc:{user:42}");
        assert_eq!("user:42".name("rc:").1, key_hash("user:42"));
    }
}
