//! The SPEC's verdict codes, each with its reason.

use serde::{Deserialize, Serialize};

use super::level::Level;

/// The SPEC's verdict codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub code: VerdictCode,
    pub reason: String,
}

/// The judge's conclusions about one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// Effective level: the highest of all mapped label sources.
    pub level: Option<Level>,
    /// The level the content calls for; `None` when the content is unknown.
    pub suggested: Option<Level>,
    /// Canonical names of the partners named in release markings, then unknown names as written.
    pub released_to: Vec<String>,
    /// Every code that applies, sorted, or `OK` alone.
    pub verdicts: Vec<Verdict>,
}

impl Judgement {
    pub fn has(&self, code: VerdictCode) -> bool {
        self.verdicts.iter().any(|v| v.code == code)
    }
}
