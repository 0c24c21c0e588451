//! labelscan: find documents whose classification labels do not match their
//! content or their release, on file shares of millions of documents.
//!
//! The pipeline reads top to bottom: [`walk`] -> [`extract`] -> [`labels`] ->
//! [`detect`] -> [`judge`] -> [`report`]. [`pipeline`] runs one file through
//! all stages and [`scan`] drives the pipeline over a tree with a worker pool.

pub mod budget;
pub mod detect;
pub mod explain;
pub mod extract;
pub mod judge;
pub mod labels;
pub mod mask;
pub mod pipeline;
pub mod policy;
pub mod record;
pub mod report;
pub mod scan;
pub mod walk;

/// The tool's version, as written into `summary.json`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
