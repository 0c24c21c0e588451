//! Zip archives: each member is a document of its own.

use super::{ExtractError, Extracted, Format, Outcome};
use crate::budget::Budget;

/// One member of an archive, already extracted.
pub struct Member {
    /// Path inside the archive, nested archives joined with `!/`.
    pub path: String,
    pub size: u64,
    pub sha256: String,
    pub format: Format,
    pub extracted: Extracted,
}

pub fn extract_members(bytes: &[u8], budget: &Budget) -> Outcome {
    let _ = (bytes, budget);
    Outcome::Document(
        Format::Zip,
        Extracted::failed(ExtractError::corrupt("archives not yet supported")),
    )
}
