//! Protection levels, typed until a record is rendered.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A protection level: an index into the scheme's levels, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Level(usize);

impl Level {
    /// The lowest level of every scheme.
    pub const LOWEST: Level = Level(0);

    pub fn new(index: usize) -> Level {
        Level(index)
    }

    pub fn index(self) -> usize {
        self.0
    }
}

/// The names of a scheme's levels, lowest first; shared by every record of a
/// run so that a record can render its levels on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelNames(Arc<[String]>);

impl LevelNames {
    pub fn new(names: &[String]) -> LevelNames {
        LevelNames(names.iter().cloned().collect())
    }

    /// The level's name; a level the scheme does not have renders as `?`
    /// (only possible with a record built for another scheme).
    pub fn name(&self, level: Level) -> &str {
        self.0.get(level.index()).map(String::as_str).unwrap_or("?")
    }
}
