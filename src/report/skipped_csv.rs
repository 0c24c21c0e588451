//! `skipped.csv`: every path under the PATHs that was not inspected, and
//! why, so that an auditor sees the scan's coverage and not just a count.

use std::path::Path;

use super::csv_report::{create_csv, defuse};
use super::{RecordSink, Summary};
use crate::model::{DocumentRecord, Skip};

pub const HEADER: [&str; 2] = ["path", "reason"];

/// Writes `skipped.csv` with the same conventions as `findings.csv`
/// (UTF-8 with a byte-order mark, formula-safe cells).
pub struct SkippedCsvSink {
    csv: csv::Writer<super::ReportWriter>,
}

impl SkippedCsvSink {
    pub fn create(path: &Path) -> std::io::Result<SkippedCsvSink> {
        Ok(SkippedCsvSink {
            csv: create_csv(path, &HEADER)?,
        })
    }
}

/// The cells of a skip's row.
pub fn row(skip: &Skip) -> [String; 2] {
    [defuse(&skip.path), defuse(&skip.reason)]
}

impl RecordSink for SkippedCsvSink {
    fn record(&mut self, _record: &DocumentRecord) -> std::io::Result<()> {
        Ok(())
    }

    fn skipped(&mut self, skip: &Skip) -> std::io::Result<()> {
        self.csv.write_record(row(skip))?;
        Ok(())
    }

    fn finish(&mut self, _summary: &Summary) -> std::io::Result<()> {
        self.csv.flush()
    }
}
