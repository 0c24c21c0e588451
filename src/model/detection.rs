//! What the detectors found in a document.

use serde::{Deserialize, Serialize};

use super::level::Level;

/// Confidence of a detection: high when validated by a checksum or backed
/// by context words, low otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

/// What one detector found in a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detection {
    pub detector: String,
    pub category: String,
    pub count: usize,
    pub min_count: usize,
    /// Whether `count >= min_count`, so the detector counts towards the suggestion.
    pub fired: bool,
    pub level: Level,
    pub confidence: Confidence,
    /// At most five values, masked unless `--show-values`.
    pub samples: Vec<String>,
    /// Where the hits were, in the order found: `body word/document.xml
    /// paragraph 12`, `sheet "Budget" cell B7`, `page 3`, `slide 2`,
    /// `body line 40`, `property Title` (deduplicated, at most 20).
    pub locations: Vec<String>,
}
