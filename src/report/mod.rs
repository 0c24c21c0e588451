//! Record sinks: every report is one [`RecordSink`] that receives each
//! finished document record in walk order and, at the end, the run's
//! summary. A new output format is one new sink file plus one line in
//! [`REPORT_FILES`].
//!
//! Sinks write into a [`ReportSet`]'s staging folder and the set commits
//! them together with `manifest.json` when the run has finished (see
//! [`set`]), so the report folder never holds a mix of two runs.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use crate::model::{DocumentRecord, Skip};

pub mod changes;
pub mod csv_report;
pub mod formats;
mod fs_safe;
pub mod html;
pub mod jsonl;
pub mod lock;
pub mod manifest;
pub mod merge;
pub mod set;
pub mod shard_order;
pub mod skipped_csv;
pub mod summary;
mod writeback;
mod written;
pub mod xlsx;

pub use manifest::{Manifest, MANIFEST_FILE};
pub use set::{ReportSet, SetError};
pub use summary::Summary;

pub const CSV_FILE: &str = "findings.csv";
pub const JSONL_FILE: &str = "findings.jsonl";
pub const SUMMARY_FILE: &str = "summary.json";
pub const SKIPPED_FILE: &str = "skipped.csv";
/// Written by scans with a state store (see [`changes`]).
pub const CHANGES_CSV_FILE: &str = "changes.csv";
pub const CHANGES_JSONL_FILE: &str = "changes.jsonl";
use html::RowsAhead;
/// The auditor report, rendered from the others when the run has finished.
pub use html::HTML_FILE;
/// Written by `scan --shard I/N` (see [`shard_order`]).
pub use shard_order::SHARD_ORDER_FILE;
/// The findings as a workbook (`--formats ...,xlsx`), rendered like report.html.
pub use xlsx::XLSX_FILE;

/// Receives a run's records as they are finished, then the run's end.
pub trait RecordSink: Send {
    /// One document's record; records and skips arrive in walk order.
    fn record(&mut self, record: &DocumentRecord) -> std::io::Result<()>;
    /// A path that was not inspected, and why.
    fn skipped(&mut self, _skip: &Skip) -> std::io::Result<()> {
        Ok(())
    }
    /// The records and skips of one item of the job source (a file, with
    /// its archive members, or a path passed over) are all in.
    fn item_end(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    /// Every record is in: add what only this sink knows to the summary,
    /// before any sink finishes (and `summary.json` is written).
    fn conclude(&mut self, _summary: &mut Summary) -> std::io::Result<()> {
        Ok(())
    }
    /// The run is over: flush and write whatever needs the totals.
    fn finish(&mut self, summary: &Summary) -> std::io::Result<()>;
}

/// One report file of a scan: its name and how to open its sink at a path.
pub struct ReportFile {
    pub name: &'static str,
    pub open: fn(&Path) -> std::io::Result<Box<dyn RecordSink>>,
}

/// Every report file a scan writes, one line each. The set's manifest
/// covers whatever the sinks stage, and `verify` knows these names.
pub const REPORT_FILES: &[ReportFile] = &[
    ReportFile {
        name: CSV_FILE,
        open: |path| Ok(Box::new(csv_report::CsvSink::create(path)?)),
    },
    ReportFile {
        name: JSONL_FILE,
        open: |path| Ok(Box::new(jsonl::JsonlSink::create(path)?)),
    },
    ReportFile {
        name: SKIPPED_FILE,
        open: |path| Ok(Box::new(skipped_csv::SkippedCsvSink::create(path)?)),
    },
    ReportFile {
        name: SUMMARY_FILE,
        open: |path| Ok(Box::new(summary::SummarySink::new(path))),
    },
];

/// The names of every report file a scan writes (the change reports only
/// with a state store).
pub fn report_names() -> Vec<&'static str> {
    REPORT_FILES
        .iter()
        .map(|r| r.name)
        .chain([
            CHANGES_CSV_FILE,
            CHANGES_JSONL_FILE,
            HTML_FILE,
            XLSX_FILE,
            SHARD_ORDER_FILE,
        ])
        .collect()
}

/// The sinks of a scan writing `formats`, into `set`'s staging folder, for
/// a run over the PATHs `roots`.
pub fn file_sinks(
    set: &ReportSet,
    formats: &formats::Formats,
    roots: &[String],
) -> std::io::Result<Vec<Box<dyn RecordSink>>> {
    REPORT_FILES
        .iter()
        .filter(|report| match report.name {
            CSV_FILE => formats.csv,
            JSONL_FILE => formats.stages_jsonl(),
            _ => true,
        })
        .map(|report| match report.name {
            // report.html's rows are rendered as the lines are written, on
            // the workers, not after the run on their own (see `RowsAhead`).
            JSONL_FILE if formats.html => {
                let rows = RowsAhead::create(set.staging_dir(), roots)?;
                let sink = jsonl::JsonlSink::create(&set.path_of(JSONL_FILE))?;
                Ok(Box::new(sink.rendering_rows(rows)) as Box<dyn RecordSink>)
            }
            _ => (report.open)(&set.path_of(report.name)),
        })
        .collect()
}

/// Creates a report file: new (never through a link planted at the
/// name, never appending to a leftover), since the set's staging folder is fresh.
fn create_report_file(path: &Path) -> std::io::Result<File> {
    fs_safe::create_new(path)
}

/// A report file being written.
pub type ReportWriter = BufWriter<writeback::WritebackFile>;

/// A buffered report file: large buffers, since rows are small and many.
fn create_buffered(path: &Path) -> std::io::Result<ReportWriter> {
    Ok(BufWriter::with_capacity(
        256 * 1024,
        writeback::WritebackFile::new_report(path, create_report_file(path)?)?,
    ))
}

/// A report file this run began, opened to write on at its end.
fn append_buffered(path: &Path) -> std::io::Result<ReportWriter> {
    Ok(BufWriter::with_capacity(
        256 * 1024,
        writeback::WritebackFile::appending_report(path, fs_safe::open_append(path)?)?,
    ))
}
