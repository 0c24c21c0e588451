//! `findings.csv`: one row per document, columns in the SPEC's order, safe
//! to open in a spreadsheet.

use std::io::Write;
use std::path::Path;

use super::{RecordSink, Summary};
use crate::model::DocumentRecord;

/// Writes `findings.csv`: UTF-8 with a byte-order mark, so that spreadsheets
/// read names like "Geschäftsbericht" correctly.
pub struct CsvSink {
    csv: csv::Writer<super::ReportWriter>,
}

impl CsvSink {
    pub fn create(path: &Path) -> std::io::Result<CsvSink> {
        Ok(CsvSink {
            csv: create_csv(path, &HEADER)?,
        })
    }
}

/// A new CSV report: a byte-order mark, so that spreadsheets read names
/// like "Geschäftsbericht" correctly, then the header row.
pub fn create_csv(
    path: &Path,
    header: &[&str],
) -> std::io::Result<csv::Writer<super::ReportWriter>> {
    let mut file = super::create_buffered(path)?;
    file.write_all("\u{feff}".as_bytes())?;
    let mut csv = csv::WriterBuilder::new().from_writer(file);
    csv.write_record(header)?;
    Ok(csv)
}

impl RecordSink for CsvSink {
    fn record(&mut self, record: &DocumentRecord) -> std::io::Result<()> {
        self.csv.write_record(row(record))?;
        Ok(())
    }

    fn finish(&mut self, _summary: &Summary) -> std::io::Result<()> {
        self.csv.flush()
    }
}

/// SPEC's columns, then the evidence columns of 0.4.0 and `excepted`
/// (`CODE=EXCEPTION_ID;...`), appended so that scripts reading columns by
/// position keep working.
pub const HEADER: [&str; 18] = [
    "path",
    "format",
    "size",
    "sha256",
    "level",
    "label_sources",
    "released_to",
    "tlp",
    "suggested_level",
    "detections",
    "verdicts",
    "reasons",
    "error",
    "modified",
    "owner",
    "text_chars",
    "doc_id",
    "excepted",
];

/// The cells of one row, formula-injection safe.
pub fn row(r: &DocumentRecord) -> [String; 18] {
    let a = &r.analysis;
    let j = &r.judgement;
    let sources: Vec<String> = a
        .labels
        .sources
        .iter()
        .map(|s| format!("{}:{}", s.kind.as_str(), s.value))
        .collect();
    let detections: Vec<String> = a
        .detections
        .iter()
        .filter(|d| d.fired)
        .map(|d| format!("{}:{}", d.detector, d.count))
        .collect();
    let codes: Vec<&str> = j.verdicts.iter().map(|v| v.code.as_str()).collect();
    let reasons: Vec<String> = j
        .verdicts
        .iter()
        .filter(|v| !v.reason.is_empty())
        .map(|v| format!("{}: {}", v.code.as_str(), v.reason))
        .collect();
    [
        r.path.clone(),
        r.format().to_string(),
        a.size.to_string(),
        a.sha256.clone(),
        r.level().unwrap_or_default().to_string(),
        sources.join(";"),
        j.released_to.join(";"),
        a.labels
            .strictest_tlp()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        r.suggested_level().to_string(),
        detections.join(";"),
        codes.join(";"),
        reasons.join("; "),
        a.error
            .as_ref()
            .map(|e| e.kind.as_str().to_string())
            .unwrap_or_default(),
        r.origin.modified_iso(),
        r.origin.owner.as_deref().unwrap_or_default().to_string(),
        a.text_chars.to_string(),
        r.id.clone(),
        j.excepted().join(";"),
    ]
    .map(|cell| defuse(&cell))
}

/// Prefixes a cell that a spreadsheet would run as a formula with `'`.
pub fn defuse(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::defuse;

    #[test]
    fn formula_cells_are_defused() {
        assert_eq!(defuse("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(defuse("-1+2"), "'-1+2");
        assert_eq!(defuse("@SUM"), "'@SUM");
        assert_eq!(defuse("\tx"), "'\tx");
        assert_eq!(defuse("Geschäftsbericht.docx"), "Geschäftsbericht.docx");
    }
}
