//! Cells: where a state lives and how it changes atomically. Nothing else.
//!
//! A cell never knows which algorithm it runs: it hands the state it read to a pure
//! function and installs the answer with a compare-exchange. The function may run
//! more than once (a failed exchange retries with the value that beat it), which is
//! why the algorithms are pure.
//!
//! | file | cell |
//! |---|---|
//! | `word.rs` | one 64-bit state word (every algorithm but the log) |
//! | `log.rs` | a sliding-window log: a 128-bit head and a ring of times |
//! | `arena.rs` | the keyed table's logs, one per slot |
//! | `sharded.rs` | a token bucket drawn from by per-thread leases |

mod arena;
mod log;
mod sharded;
mod word;

pub(crate) use arena::LogArena;
pub(crate) use log::{LogCell, LogMode, LogRun, Ownership};
pub(crate) use sharded::ShardedCell;
pub(crate) use word::WordCell;
