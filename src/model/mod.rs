//! The bottom layer: types that several stages share. It imports no stage,
//! so every stage can depend on it without a cycle.

pub mod analysis;
pub mod budget;
pub mod change;
pub mod detection;
pub mod document;
pub mod error;
pub mod format;
pub mod hash;
pub mod job;
pub mod label;
pub mod level;
pub mod mask;
pub mod record;
pub mod text;
pub mod untrusted;
pub mod verdict;

pub use analysis::{Analysis, ANALYSIS_VERSION};
pub use change::{Change, ChangeKind, DocumentState};
pub use detection::{Confidence, Detection};
pub use document::{
    CellAnchors, Extracted, LabelInfoEntry, Layout, Locator, NamedAnchor, Part, PartKind, Property,
    PROPERTIES_PART,
};
pub use error::{ErrorKind, ExtractError, ExtractResult};
pub use format::Format;
pub use job::{FileJob, FileOrigin, Scope, Skip};
pub use label::{LabelFindings, LabelKind, LabelSource, ReleaseMarking, Tlp, TlpMarking};
pub use level::{Level, LevelNames};
pub use record::DocumentRecord;
pub use verdict::{
    Judgement, LocationEvidence, ReleaseEvidence, ReleaseStatus, Verdict, VerdictCode,
};
