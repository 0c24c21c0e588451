//! `summary.json`: counts for the whole scan. The only per-scan state kept
//! in memory, and it does not grow with the number of files.

use std::collections::BTreeMap;

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::RecordSink;
use crate::model::{DocumentRecord, VerdictCode};

/// Writes `summary.json` when the run ends; the driver keeps the counts.
pub struct SummarySink {
    path: PathBuf,
}

impl SummarySink {
    pub fn new(path: &Path) -> SummarySink {
        SummarySink {
            path: path.to_path_buf(),
        }
    }
}

impl RecordSink for SummarySink {
    fn record(&mut self, _record: &DocumentRecord) -> std::io::Result<()> {
        Ok(())
    }

    fn finish(&mut self, summary: &Summary) -> std::io::Result<()> {
        let mut out = std::io::BufWriter::new(super::create_report_file(&self.path)?);
        serde_json::to_writer_pretty(&mut out, summary)?;
        out.write_all(b"\n")?;
        out.flush()
    }
}

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub tool: &'static str,
    pub version: &'static str,
    pub as_of: String,
    pub policy: String,
    pub policy_sha256: String,
    pub paths: Vec<String>,
    pub started_at: String,
    pub duration_seconds: f64,
    pub files_scanned: u64,
    pub documents: u64,
    pub bytes_scanned: u64,
    pub files_per_second: f64,
    pub megabytes_per_second: f64,
    pub verdicts: BTreeMap<String, u64>,
    pub formats: BTreeMap<String, u64>,
    pub levels: BTreeMap<String, u64>,
    pub suggested_levels: BTreeMap<String, u64>,
    pub detectors: BTreeMap<String, u64>,
    pub errors: BTreeMap<String, u64>,
    pub files_skipped: u64,
    pub skipped: BTreeMap<String, u64>,
    pub documents_failing: u64,
    pub fail_on: Vec<String>,
}

impl Summary {
    pub fn count(&mut self, r: &DocumentRecord) {
        self.documents += 1;
        for v in &r.judgement.verdicts {
            *self
                .verdicts
                .entry(v.code.as_str().to_string())
                .or_default() += 1;
        }
        *self.formats.entry(r.format().to_string()).or_default() += 1;
        *self
            .levels
            .entry(r.level().unwrap_or("none").to_string())
            .or_default() += 1;
        let suggested = match r.suggested_level() {
            "" => "unknown",
            name => name,
        };
        *self
            .suggested_levels
            .entry(suggested.to_string())
            .or_default() += 1;
        for d in r.analysis.detections.iter().filter(|d| d.fired) {
            *self.detectors.entry(d.detector.clone()).or_default() += 1;
        }
        if let Some(e) = &r.analysis.error {
            *self.errors.entry(e.kind.as_str().to_string()).or_default() += 1;
        }
    }

    pub fn skip(&mut self, reason: &str) {
        self.files_skipped += 1;
        *self.skipped.entry(reason.to_string()).or_default() += 1;
    }

    /// Makes sure every verdict code appears, so that scripts can read any count.
    pub fn fill_zero_counts(&mut self) {
        for code in VerdictCode::ALL {
            self.verdicts.entry(code.as_str().to_string()).or_default();
        }
    }
}
