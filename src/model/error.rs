//! Why a document could not be inspected: the SPEC's `error` values.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a file could not be inspected: the SPEC's `error` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Encrypted,
    Corrupt,
    TooLarge,
    LimitExceeded,
    Timeout,
    PermissionDenied,
    Io,
    /// labelscan itself failed on the file (a bug, caught): content unknown.
    Internal,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Encrypted => "encrypted",
            ErrorKind::Corrupt => "corrupt",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::LimitExceeded => "limit_exceeded",
            ErrorKind::Timeout => "timeout",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::Io => "io",
            ErrorKind::Internal => "internal",
        }
    }
}

/// An extraction failure. `detail` describes the structure that failed
/// ("zip central directory not found"), never the document's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub struct ExtractError {
    pub kind: ErrorKind,
    pub detail: String,
}

impl fmt::Display for ExtractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.detail.is_empty() {
            f.write_str(self.kind.as_str())
        } else {
            write!(f, "{}: {}", self.kind.as_str(), self.detail)
        }
    }
}

impl ExtractError {
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        ExtractError {
            kind,
            detail: detail.into(),
        }
    }
    pub fn corrupt(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Corrupt, detail)
    }
    pub fn encrypted(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Encrypted, detail)
    }
    pub fn limit(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::LimitExceeded, detail)
    }
    /// A stage of labelscan panicked on the file; the payload is never kept
    /// (it may quote document text).
    pub fn internal(stage: &str) -> Self {
        Self::new(
            ErrorKind::Internal,
            format!("labelscan failed in {stage} on this file"),
        )
    }
    pub fn timeout() -> Self {
        Self::new(ErrorKind::Timeout, "file took longer than --file-timeout")
    }
    pub fn io(err: &std::io::Error) -> Self {
        let kind = match err.kind() {
            std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
            _ => ErrorKind::Io,
        };
        Self::new(kind, err.kind().to_string())
    }
}

pub type ExtractResult<T> = Result<T, ExtractError>;
