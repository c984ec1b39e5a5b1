//! Benchmarks of ratecell beside its incumbents; see `benches/` in this crate and
//! `BENCHMARKS.md` at the repository root. The library itself is empty.
