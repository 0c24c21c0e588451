//! Detectors: built-in definitions from `detectors/*.toml` (embedded at build
//! time), tuned by the policy, plus the policy's keyword lists and patterns.

use crate::extract::Part;
use crate::policy::Policy;
use crate::record::Detection;

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("key `detectors.{0}`: unknown detector id")]
    UnknownDetector(String),
    #[error("detector definition `{id}`: {message}")]
    BadDefinition { id: String, message: String },
}

/// The compiled detector set for one policy. Shared read-only by all workers.
pub struct DetectorSet {}

impl DetectorSet {
    /// Compiles the built-in detectors with the policy's tuning, keywords and patterns.
    pub fn compile(policy: &Policy) -> Result<DetectorSet, DetectError> {
        let _ = policy;
        Ok(DetectorSet {})
    }

    /// Runs every detector over the parts. Returns one [`Detection`] per
    /// detector with at least one hit, sorted by detector id. Samples are
    /// masked unless `show_values`.
    pub fn scan(&self, parts: &[Part], show_values: bool) -> Vec<Detection> {
        let _ = (parts, show_values);
        Vec::new()
    }

    /// Ids of all enabled detectors.
    pub fn ids(&self) -> Vec<String> {
        Vec::new()
    }
}
