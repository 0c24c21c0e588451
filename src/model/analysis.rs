//! The analysis of one document: what extraction, the labels stage and the
//! detectors found. It depends on the file, the tool version, the detector
//! definitions and the detection-relevant parts of the policy, never on
//! locations, partners or the date, so it can be stored and judged again.
//! (Release names are masked with a key the judge matches partners on.)

use serde::{Deserialize, Serialize};

use super::detection::Detection;
use super::error::{ErrorKind, ExtractError};
use super::format::Format;
use super::label::LabelFindings;

/// Bumped whenever [`Analysis`] or the meaning of its fields changes, so that
/// a stored analysis of an older shape is never read back as current.
/// 2: detection locations name paragraphs, lines, cells and properties;
/// `text_chars` counts characters of content text, properties aside.
/// 3: release names are all masked, with keys ([`super::label::ReleaseMarking`]).
/// 4: a document read only in part (`limit_exceeded`) carries the
/// detections of the text that was read.
/// 5: `no_text_cause`.
pub const ANALYSIS_VERSION: u32 = 5;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub version: u32,
    pub format: Format,
    pub size: u64,
    /// SHA-256 of the document's bytes; empty when they could not be read.
    pub sha256: String,
    pub labels: LabelFindings,
    /// Masked unless the run shows values.
    pub detections: Vec<Detection>,
    /// Why the content could not be read, if it could not.
    pub error: Option<ExtractError>,
    /// Parts (zip members, streams, pages) read.
    pub parts_read: usize,
    /// Characters of content text read, document properties aside (0 for
    /// an image-only scan).
    pub text_chars: usize,
    /// Why content that should hold text gave none, when the extractor
    /// knows (glyphs no font maps to characters); counts, never content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_text_cause: Option<String>,
}

impl Analysis {
    /// Whether the content was read (false for `UNREADABLE` documents).
    pub fn content_known(&self) -> bool {
        self.error.is_none()
    }

    /// Whether a limit cut the content after some of its text was read
    /// (`limit_exceeded`): what was read is evidence, the rest is unknown.
    pub fn content_partly_read(&self) -> bool {
        partly_read(self.error.as_ref(), self.text_chars)
    }
}

/// Whether a document with `error` and `text_chars` of content text was
/// read in part: a limit stopped the extractor after some text.
pub fn partly_read(error: Option<&ExtractError>, text_chars: usize) -> bool {
    matches!(error, Some(e) if e.kind == ErrorKind::LimitExceeded) && text_chars > 0
}
