//! labelscan: find documents whose classification labels do not match their
//! content or their release, on file shares of millions of documents.
//!
//! The pipeline reads top to bottom, each layer importing only those above it:
//!
//! - [`model`]: shared types (parts, errors, labels, detections, levels,
//!   verdicts, records, the per-file budget); imports no stage.
//! - [`policy`]: the validated policy file.
//! - [`walk`]: job sources; [`walk::local`] walks PATHs on this host.
//! - [`extract`] -> [`labels`] -> [`detect`]: what a document says;
//!   [`analyse`] runs the three and yields a storable [`model::Analysis`].
//! - [`judge`]: an analysis, a path, the policy and the date -> verdicts.
//! - [`pipeline`]: one file through every stage, for `scan` and `explain` alike.
//! - [`report`]: record sinks (`findings.csv`, `findings.jsonl`, `summary.json`);
//!   [`store`] beside them: the state store of scheduled scans.
//! - [`scan`] drives a job source through the pipeline into the sinks;
//!   [`explain`] renders one file for a person; [`describe`] renders the
//!   policy and its detectors.
//! - [`apply`]: a finished run's suggestions written into the documents
//!   as labels (`labelscan apply`).
//! - [`state`]: a scan with a state store (reuse of stored analyses,
//!   changes since the last run).

pub mod model;

pub mod policy;

pub mod extract;
pub mod walk;

pub mod detect;
pub mod labels;

pub mod analyse;
pub mod judge;

pub mod pipeline;
pub mod queue;

pub mod report;
pub mod store;

pub mod apply;
pub mod describe;
pub mod explain;
pub mod scan;

pub mod state;

pub use model as record;
/// The per-file limits, under their long-standing path.
pub use model::budget;
/// The record types and the masking rule, under their long-standing paths.
pub use model::mask;

/// The tool's version, as written into `summary.json`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
