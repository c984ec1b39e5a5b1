//! Conditional compilation in one place, as tokio's `cfg_*!` macros do: each item
//! a macro wraps says once why it exists in some builds only.

/// Items that the snapshot code uses. Snapshots need files (`std`) and loom
/// builds leave them out, so elsewhere these items are unused but kept: loom
/// models still exercise some of them.
macro_rules! used_by_snapshots {
    ($($item:item)*) => {
        $(
            #[cfg_attr(not(all(feature = "std", not(loom))), allow(dead_code))]
            $item
        )*
    };
}

/// Items that only the fuzz targets' checks use (built under `cargo fuzz`, which
/// sets `--cfg fuzzing`, and for the unit test that replays the corpora).
macro_rules! cfg_fuzzing {
    ($($item:item)*) => {
        $(
            #[cfg(any(fuzzing, all(test, not(loom))))]
            $item
        )*
    };
}
