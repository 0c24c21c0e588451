//! The one typed record per document that every report is rendered from.
//! Levels are kept as names (not indices) so a record stands on its own.

use serde::Serialize;

use crate::extract::ErrorKind;

/// Where a label came from (SPEC "Label sources").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelKind {
    Msip,
    Property,
    Marking,
}

impl LabelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LabelKind::Msip => "msip",
            LabelKind::Property => "property",
            LabelKind::Marking => "marking",
        }
    }
}

/// One label found in a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabelSource {
    pub kind: LabelKind,
    /// The label as written: a level name, an MSIP label name or GUID, a property value.
    pub value: String,
    /// The level it maps to, or `None` when the scheme cannot map it.
    pub level: Option<String>,
    /// Where: `docProps/custom.xml MSIP_Label_<guid>_Name`, `word/header1.xml`, `page 1`.
    pub location: String,
}

/// A TLP 2.0 marking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Tlp {
    #[serde(rename = "TLP:CLEAR")]
    Clear,
    #[serde(rename = "TLP:GREEN")]
    Green,
    #[serde(rename = "TLP:AMBER")]
    Amber,
    #[serde(rename = "TLP:AMBER+STRICT")]
    AmberStrict,
    #[serde(rename = "TLP:RED")]
    Red,
}

impl Tlp {
    pub fn as_str(self) -> &'static str {
        match self {
            Tlp::Clear => "TLP:CLEAR",
            Tlp::Green => "TLP:GREEN",
            Tlp::Amber => "TLP:AMBER",
            Tlp::AmberStrict => "TLP:AMBER+STRICT",
            Tlp::Red => "TLP:RED",
        }
    }
}

/// A TLP marking as found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlpMarking {
    pub tlp: Tlp,
    /// As written (`TLP: amber`, `TLP:WHITE`); differs from the canonical form when non-canonical.
    pub written: String,
    pub location: String,
}

/// One release marking ("RELEASED TO: A, B") as found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseMarking {
    /// The names as written.
    pub names: Vec<String>,
    pub location: String,
}

/// Confidence of a detection: high when validated by a checksum or backed
/// by context words, low otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

/// What one detector found in a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detection {
    pub detector: String,
    pub category: String,
    pub count: usize,
    pub min_count: usize,
    /// Whether `count >= min_count`, so the detector counts towards the suggestion.
    pub fired: bool,
    pub level: String,
    pub confidence: Confidence,
    /// At most five values, masked unless `--show-values`.
    pub samples: Vec<String>,
    /// Where the hits were: `body`, `comment word/comments.xml`, `page 3` (deduplicated, at most 20).
    pub locations: Vec<String>,
}

/// The SPEC's verdict codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerdictCode {
    Ok,
    Unlabeled,
    UnknownLabel,
    LabelConflict,
    UnderClassified,
    ReleaseWithoutLevel,
    ReleaseUnauthorized,
    ReleaseExceedsAgreement,
    ReleaseAgreementExpired,
    NotReleasedToLocation,
    TlpViolation,
    Unreadable,
}

impl VerdictCode {
    pub const ALL: [VerdictCode; 12] = [
        VerdictCode::Ok,
        VerdictCode::Unlabeled,
        VerdictCode::UnknownLabel,
        VerdictCode::LabelConflict,
        VerdictCode::UnderClassified,
        VerdictCode::ReleaseWithoutLevel,
        VerdictCode::ReleaseUnauthorized,
        VerdictCode::ReleaseExceedsAgreement,
        VerdictCode::ReleaseAgreementExpired,
        VerdictCode::NotReleasedToLocation,
        VerdictCode::TlpViolation,
        VerdictCode::Unreadable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VerdictCode::Ok => "OK",
            VerdictCode::Unlabeled => "UNLABELED",
            VerdictCode::UnknownLabel => "UNKNOWN_LABEL",
            VerdictCode::LabelConflict => "LABEL_CONFLICT",
            VerdictCode::UnderClassified => "UNDER_CLASSIFIED",
            VerdictCode::ReleaseWithoutLevel => "RELEASE_WITHOUT_LEVEL",
            VerdictCode::ReleaseUnauthorized => "RELEASE_UNAUTHORIZED",
            VerdictCode::ReleaseExceedsAgreement => "RELEASE_EXCEEDS_AGREEMENT",
            VerdictCode::ReleaseAgreementExpired => "RELEASE_AGREEMENT_EXPIRED",
            VerdictCode::NotReleasedToLocation => "NOT_RELEASED_TO_LOCATION",
            VerdictCode::TlpViolation => "TLP_VIOLATION",
            VerdictCode::Unreadable => "UNREADABLE",
        }
    }

    pub fn parse(text: &str) -> Option<VerdictCode> {
        let wanted = text.trim().to_ascii_uppercase();
        Self::ALL.into_iter().find(|c| c.as_str() == wanted)
    }
}

/// A verdict with the reason a human can check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub code: VerdictCode,
    pub reason: String,
}

/// Why a document could not be inspected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreadable {
    pub kind: ErrorKind,
    /// Structural detail, never document content.
    pub detail: String,
}

/// Everything labelscan concluded about one document.
#[derive(Debug, Clone, Serialize)]
pub struct DocumentRecord {
    /// Stable id: SHA-256 of the path as walked, first 16 hex digits.
    pub id: String,
    pub path: String,
    pub format: String,
    pub size: u64,
    pub sha256: String,
    /// Effective level (highest of all mapped label sources).
    pub level: Option<String>,
    pub label_sources: Vec<LabelSource>,
    pub releases: Vec<ReleaseMarking>,
    /// Canonical partner names (or the names as written, for unknown recipients).
    pub released_to: Vec<String>,
    pub tlp: Option<Tlp>,
    pub tlp_markings: Vec<TlpMarking>,
    pub suggested_level: String,
    pub detections: Vec<Detection>,
    pub verdicts: Vec<Verdict>,
    pub error: Option<Unreadable>,
    /// Parts read, for `explain` and auditors.
    pub parts_read: usize,
    pub text_chars: usize,
}

impl DocumentRecord {
    pub fn has(&self, code: VerdictCode) -> bool {
        self.verdicts.iter().any(|v| v.code == code)
    }
}

/// A stable id for a document: the first 16 hex digits of SHA-256 of its path.
pub fn document_id(path: &str) -> String {
    crate::policy::hex_sha256(path.as_bytes())[..16].to_string()
}
