//! Arbitrary bytes as a snapshot file: the decoder never panics or allocates
//! beyond the input, accepts only files that encode back to the same bytes, and an
//! accepted file restores into a limiter of its shape with exactly its live
//! entries. The checks are `ratecell::__fuzz::snapshot_decode`, which `cargo test`
//! also runs over the committed corpus.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ratecell::__fuzz::snapshot_decode(data);
});
