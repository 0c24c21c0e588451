//! Job sources: where the files to inspect come from. The scan driver pulls
//! from one [`JobSource`]; the walk of local PATHs is one implementation, a
//! queue of work units leased from a database would be another.

pub mod local;

pub use local::{Filter, Walk};

use crate::model::FileJob;

/// Something a job source passed over without inspecting it, and why
/// (`symlink`, `permission_denied`, `not a regular file`, `io`).
#[derive(Debug, Clone)]
pub struct WalkSkip {
    pub path: String,
    pub reason: String,
}

/// One item from a job source.
#[derive(Debug)]
pub enum WalkItem {
    File(FileJob),
    Skip(WalkSkip),
}

/// Hands out files to inspect, in a deterministic order. Called by one
/// worker at a time (the driver serialises calls), so it needs no locking
/// of its own.
pub trait JobSource: Send {
    /// The next file or skip; `None` when the source is exhausted.
    fn next_item(&mut self) -> Option<WalkItem>;
}

/// Any iterator of items is a job source (tests feed fixed lists).
impl<I: Iterator<Item = WalkItem> + Send> JobSource for I {
    fn next_item(&mut self) -> Option<WalkItem> {
        self.next()
    }
}
