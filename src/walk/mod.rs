//! Job sources: where the files to inspect come from. The scan driver pulls
//! from one [`JobSource`]; the walk of local PATHs is one implementation, a
//! queue of work units leased from a database would be another.

pub mod ahead;
pub mod local;
pub mod roots;
pub mod shard;

pub use ahead::WalkAhead;
pub use local::{walk_key, Filter, Listed, UnitTree, Walk};
pub use roots::{plan_roots, RootPlan};
pub use shard::{Shard, ShardOrder, Sharded};

use crate::model::{FileJob, Skip};

/// One item from a job source.
#[derive(Debug)]
pub enum WalkItem {
    File(FileJob),
    Skip(Skip),
}

/// Hands out files to inspect, in a deterministic order. Called by one
/// worker at a time (the driver serialises calls), so it needs no locking
/// of its own.
pub trait JobSource: Send {
    /// The next file or skip; `None` when the source is exhausted.
    fn next_item(&mut self) -> Option<WalkItem>;

    /// Files left out on purpose (--include/--exclude): counted, not listed.
    fn filtered_out(&self) -> u64 {
        0
    }
}

impl JobSource for Walk {
    fn next_item(&mut self) -> Option<WalkItem> {
        self.next()
    }

    fn filtered_out(&self) -> u64 {
        Walk::filtered_out(self)
    }
}

/// A fixed list of items is a job source (tests feed them).
impl JobSource for std::vec::IntoIter<WalkItem> {
    fn next_item(&mut self) -> Option<WalkItem> {
        self.next()
    }
}
