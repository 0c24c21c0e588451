//! Labels: protection levels, release markings and TLP markings from
//! properties, MSIP metadata and visible markings.

use crate::extract::Extracted;
use crate::policy::Policy;
use crate::record::{LabelSource, ReleaseMarking, TlpMarking};

#[derive(Debug, Clone, Default)]
pub struct LabelFindings {
    pub sources: Vec<LabelSource>,
    pub releases: Vec<ReleaseMarking>,
    pub tlp: Vec<TlpMarking>,
}

pub fn find_labels(extracted: &Extracted, policy: &Policy) -> LabelFindings {
    let _ = (extracted, policy);
    LabelFindings::default()
}
