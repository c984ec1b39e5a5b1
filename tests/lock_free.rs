//! The keyed table's 128-bit compare-exchange is a real instruction, not
//! portable-atomic's lock-based fallback, on the targets the crate claims.

#![cfg(not(loom))]

#[test]
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn keyed_checks_are_lock_free_here() {
    assert!(ratecell::is_lock_free());
}

#[test]
fn the_answer_is_stable() {
    assert_eq!(ratecell::is_lock_free(), ratecell::is_lock_free());
}
