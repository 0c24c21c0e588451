//! Reports, all rendered from [`DocumentRecord`]s as they stream in:
//! `findings.csv`, `findings.jsonl` and, at the end, `summary.json`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::record::DocumentRecord;

pub mod csv_report;
pub mod jsonl;
pub mod summary;

pub use summary::Summary;

pub const CSV_FILE: &str = "findings.csv";
pub const JSONL_FILE: &str = "findings.jsonl";
pub const SUMMARY_FILE: &str = "summary.json";

/// The streaming report writers of one scan.
pub struct ReportWriter {
    dir: PathBuf,
    csv: csv::Writer<BufWriter<File>>,
    jsonl: BufWriter<File>,
}

impl ReportWriter {
    pub fn create(dir: &Path) -> std::io::Result<ReportWriter> {
        std::fs::create_dir_all(dir)?;
        let mut csv_file = BufWriter::with_capacity(256 * 1024, File::create(dir.join(CSV_FILE))?);
        // A byte-order mark, so that spreadsheets read the file as UTF-8.
        csv_file.write_all("\u{feff}".as_bytes())?;
        let mut csv = csv::WriterBuilder::new().from_writer(csv_file);
        csv.write_record(csv_report::HEADER)?;
        let jsonl = BufWriter::with_capacity(256 * 1024, File::create(dir.join(JSONL_FILE))?);
        Ok(ReportWriter {
            dir: dir.to_path_buf(),
            csv,
            jsonl,
        })
    }

    pub fn write(&mut self, record: &DocumentRecord) -> std::io::Result<()> {
        self.csv.write_record(csv_report::row(record))?;
        jsonl::write_line(&mut self.jsonl, record)?;
        Ok(())
    }

    pub fn finish(mut self, summary: &Summary) -> std::io::Result<()> {
        self.csv.flush()?;
        self.jsonl.flush()?;
        let mut out = BufWriter::new(File::create(self.dir.join(SUMMARY_FILE))?);
        serde_json::to_writer_pretty(&mut out, summary)?;
        out.write_all(b"\n")?;
        out.flush()
    }
}
