//! Record sinks: every report is one [`RecordSink`] that receives each
//! finished document record in walk order and, at the end, the run's
//! summary. A new output format is one new sink file plus one line in
//! [`file_sinks`].

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use crate::model::{DocumentRecord, Skip};

pub mod csv_report;
pub mod jsonl;
pub mod skipped_csv;
pub mod summary;

pub use summary::Summary;

pub const CSV_FILE: &str = "findings.csv";
pub const JSONL_FILE: &str = "findings.jsonl";
pub const SUMMARY_FILE: &str = "summary.json";
pub const SKIPPED_FILE: &str = "skipped.csv";

/// Receives a run's records as they are finished, then the run's end.
pub trait RecordSink: Send {
    /// One document's record; records and skips arrive in walk order.
    fn record(&mut self, record: &DocumentRecord) -> std::io::Result<()>;
    /// A path that was not inspected, and why.
    fn skipped(&mut self, _skip: &Skip) -> std::io::Result<()> {
        Ok(())
    }
    /// The run is over: flush and write whatever needs the totals.
    fn finish(&mut self, summary: &Summary) -> std::io::Result<()>;
}

/// The report files of a scan in `dir`.
pub fn file_sinks(dir: &Path) -> std::io::Result<Vec<Box<dyn RecordSink>>> {
    std::fs::create_dir_all(dir)?;
    Ok(vec![
        Box::new(csv_report::CsvSink::create(&dir.join(CSV_FILE))?),
        Box::new(jsonl::JsonlSink::create(&dir.join(JSONL_FILE))?),
        Box::new(skipped_csv::SkippedCsvSink::create(
            &dir.join(SKIPPED_FILE),
        )?),
        Box::new(summary::SummarySink::new(&dir.join(SUMMARY_FILE))),
    ])
}

/// A buffered report file: large buffers, since rows are small and many.
fn create_buffered(path: &Path) -> std::io::Result<BufWriter<File>> {
    Ok(BufWriter::with_capacity(256 * 1024, File::create(path)?))
}
