//! Placeholder, replaced by the real extractor.

#[allow(unused_imports)]
use super::{ExtractError, Extracted, Format};
use crate::budget::Budget;

pub fn extract(format: Format, bytes: &[u8], budget: &Budget) -> Extracted {
    let _ = (format, bytes, budget);
    Extracted::failed(ExtractError::corrupt("format not yet supported"))
}
