//! The SPEC's verdict codes, each with its reason.

use chrono::NaiveDate;
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
    /// The id of the policy exception that accepts this verdict: still
    /// reported, not counted for `--fail-on`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excepted: Option<String>,
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
    /// Each party named in a release marking, with the agreement that
    /// covers the release or why none does.
    pub releases: Vec<ReleaseEvidence>,
    /// The partner exchange location the file lies in, if any.
    pub location: Option<LocationEvidence>,
}

/// How a release to one named party stands on the as-of date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseStatus {
    /// A valid agreement covers the document's level.
    Covered,
    /// No agreement with the partner covers the document's level.
    Exceeds,
    /// The agreements that would cover it are not valid on the as-of date.
    Expired,
    /// The party is not a partner in the policy.
    UnknownPartner,
}

impl ReleaseStatus {
    pub const ALL: [ReleaseStatus; 4] = [
        ReleaseStatus::Covered,
        ReleaseStatus::Exceeds,
        ReleaseStatus::Expired,
        ReleaseStatus::UnknownPartner,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseStatus::Covered => "covered",
            ReleaseStatus::Exceeds => "exceeds",
            ReleaseStatus::Expired => "expired",
            ReleaseStatus::UnknownPartner => "unknown_partner",
        }
    }
}

/// One party a document is released to, and the agreement judged for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseEvidence {
    /// The partner's canonical name; `None` for a party that is no partner.
    pub partner: Option<String>,
    /// The name as the marking wrote it.
    pub named: String,
    pub status: ReleaseStatus,
    /// The agreement that covers the release, else the one judged (empty
    /// when the policy gives it no id).
    pub agreement: Option<String>,
    /// That agreement's highest level and validity.
    pub max_level: Option<Level>,
    pub valid_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
}

/// A partner exchange location that contains the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationEvidence {
    /// Position among the policy's `[[locations]]`.
    pub index: usize,
    pub pattern: String,
    pub partner: String,
}

impl Judgement {
    pub fn has(&self, code: VerdictCode) -> bool {
        self.verdicts.iter().any(|v| v.code == code)
    }

    /// Whether a verdict in `codes` applies that no exception accepts.
    pub fn fails_on(&self, codes: &[VerdictCode]) -> bool {
        self.verdicts
            .iter()
            .any(|v| v.excepted.is_none() && codes.contains(&v.code))
    }

    /// `CODE=EXCEPTION_ID` for each excepted verdict.
    pub fn excepted(&self) -> Vec<String> {
        self.verdicts
            .iter()
            .filter_map(|v| {
                v.excepted
                    .as_ref()
                    .map(|id| format!("{}={id}", v.code.as_str()))
            })
            .collect()
    }
}
