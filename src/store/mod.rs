//! The state store of scheduled scans (SPEC "Scheduled scans"): runs, each
//! file's identity and stored analyses, and each document's outcome per
//! run. One [`Store`] trait so that the SQLite backend ([`sqlite`]) can be
//! joined by a PostgreSQL one with the same schema for multi-host scans.
//!
//! A run writes into one transaction that becomes visible only with
//! [`Store::commit_run`], which the caller calls after the run's reports
//! are committed: a run killed at any moment leaves the store as the
//! previous run left it, and only completed runs become baselines.

use serde::{Deserialize, Serialize};

pub use crate::model::job::FileIdentity;
use crate::model::{Analysis, DocumentState};

pub mod postgres;
mod queue;
pub mod sqlite;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// The file name of the store inside `--out` when `--state` is not given.
pub const DEFAULT_STATE_FILE: &str = "labelscan.sqlite";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another labelscan is writing to the store.
    #[error("the state store {path} is in use by another labelscan scan; wait for it to finish or use another --state")]
    Busy { path: String },
    /// A store this labelscan cannot use (newer schema, not a store at all).
    #[error("{0}")]
    Unusable(String),
    #[error("state store: {0}")]
    Backend(String),
}

/// One run as the store records it: scope and options, what its analyses
/// depended on, and its counts once finished.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The store's own number for the run (0 before it is saved).
    pub seq: i64,
    pub run_id: String,
    /// The resolved PATHs, sorted and joined with newlines: runs over the
    /// same scope compare with each other.
    pub scope: String,
    /// The PATHs as given, as JSON.
    pub paths: String,
    /// Every option in effect, as JSON.
    pub options: String,
    pub policy_sha256: String,
    pub tool_version: String,
    pub detectors_sha256: String,
    /// Fingerprint of everything an analysis depends on (see `Analyser`).
    pub analysis_fingerprint: String,
    pub as_of: String,
    pub started_at: String,
    pub finished_at: String,
    /// Whether every PATH could be walked (`summary.json` `complete`).
    pub complete: bool,
    pub show_values: bool,
    /// Counts: documents, read, reused, verdicts and changes by kind, as JSON.
    pub counts: String,
}

/// What inspecting a file gave, without its paths: the documents' analyses
/// (one per archive member), the members that are no documents, or why
/// the file is none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredOutcome {
    /// `(member path, analysis)`; the member path is empty for the file itself.
    pub documents: Vec<(String, Analysis)>,
    /// `(member path, reason)` of archive members that are no documents.
    pub skipped_members: Vec<(String, String)>,
    /// Set when the file itself is no document (`unsupported:<type>`).
    pub skipped: Option<String>,
}

/// A file's stored analysis and what it is valid for.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFile {
    /// The file's absolute path with `/` separators.
    pub key: String,
    pub identity: FileIdentity,
    /// The analysis fingerprint it was made with.
    pub fingerprint: String,
    pub outcome: StoredOutcome,
}

/// A document in the baseline run and/or in this one; only documents that
/// are new, removed or whose state differs are passed on.
pub type StatePair = (Option<DocumentState>, Option<DocumentState>);

/// The state store. Lookups may come from any worker thread; writes are
/// queued to one writer and land in the run's transaction.
pub trait Store: Send + Sync {
    /// Every run, oldest first.
    fn runs(&self) -> Result<Vec<RunRecord>, StoreError>;
    /// The last completed run over `scope`.
    fn baseline(&self, scope: &str) -> Result<Option<RunRecord>, StoreError>;
    /// The stored analysis of the file at `key`, as of the last completed run.
    fn stored_file(&self, key: &str) -> Result<Option<StoredFile>, StoreError>;
    /// Starts writing a run; refuses with [`StoreError::Busy`] while another
    /// process writes.
    fn begin_run(&mut self, run: &RunRecord) -> Result<(), StoreError>;
    /// A file read in this run, and its analysis.
    fn save_file(&self, file: StoredFile);
    /// A file whose stored analysis this run reused.
    fn file_seen(&self, key: &str);
    /// A document's outcome in this run.
    fn save_document(&self, state: DocumentState);
    /// Waits for queued writes, then calls `each` for every document that
    /// is new, removed or different since the last completed run over the
    /// run's scope, the baseline (by path order).
    fn compare(
        &mut self,
        each: &mut dyn FnMut(StatePair) -> std::io::Result<()>,
    ) -> Result<(), StoreError>;
    /// Work of [`Store::commit_run`] that can be done before the run's
    /// reports are committed, within the run's uncommitted transaction, so
    /// that it runs beside the reports' last steps: dropping the stored
    /// files below `roots` and the scope's documents that this run did not
    /// see. Called after [`Store::compare`], with the `roots` later given
    /// to `commit_run`; optional.
    fn prepare_commit(&mut self, _roots: &[String]) -> Result<(), StoreError> {
        Ok(())
    }
    /// Makes the run durable and the new baseline of its scope: called only
    /// after its reports are committed. Drops the stored files of the scope
    /// that this run did not see, and keeps the run's document states as
    /// the scope's (writing only those that differ).
    fn commit_run(&mut self, run: &RunRecord, roots: &[String]) -> Result<(), StoreError>;
}
