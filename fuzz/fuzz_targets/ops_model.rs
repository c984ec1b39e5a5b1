//! Arbitrary sequences of check / check_n / peek / reset / clock moves /
//! snapshot-and-restore on a keyed limiter, against a sequential model (one direct
//! limiter per key on the same clock); any divergence panics. The checks are
//! `ratecell::__fuzz::ops_model`, which `cargo test` also runs over the committed
//! corpus.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ratecell::__fuzz::ops_model(data);
});
