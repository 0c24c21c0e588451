//! What a scheduled scan compares between two runs: each document's
//! judged state, and the changes between a baseline run and this one.

use serde::{Deserialize, Serialize};

/// A document's outcome in one run, as the state store keeps it: level
/// names (not indexes, so that a reordered scheme still compares), the
/// verdict codes and the exceptions that applied. No content, no values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentState {
    /// The report's path (`a.zip!/m.docx` for archive members).
    pub path: String,
    /// Effective level's name; empty when the document has none.
    pub level: String,
    /// Suggested level's name; empty when the content is unknown.
    pub suggested: String,
    /// Verdict codes joined with `;`, as in `findings.csv`.
    pub verdicts: String,
    /// SHA-256 of the document's bytes (empty when unreadable).
    pub sha256: String,
    /// `CODE=EXCEPTION_ID` for each excepted verdict, joined with `;`.
    pub excepted: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChangeKind {
    New,
    Removed,
    Changed,
}

impl ChangeKind {
    pub const ALL: [ChangeKind; 3] = [ChangeKind::New, ChangeKind::Removed, ChangeKind::Changed];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::New => "NEW",
            ChangeKind::Removed => "REMOVED",
            ChangeKind::Changed => "CHANGED",
        }
    }
}

/// One row of `changes.csv` / `changes.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: ChangeKind,
    pub before: Option<DocumentState>,
    pub after: Option<DocumentState>,
    /// Why: `content_changed`, `policy_changed`, `agreement_expired`, ...
    pub cause: String,
}

impl Change {
    pub fn path(&self) -> &str {
        self.after
            .as_ref()
            .or(self.before.as_ref())
            .map(|s| s.path.as_str())
            .unwrap_or_default()
    }
}
