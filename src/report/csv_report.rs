//! `findings.csv`: one row per document, columns in the SPEC's order, safe
//! to open in a spreadsheet.

use std::borrow::Cow;
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
        self.csv
            .write_record(row(record).iter().map(|cell| cell.as_bytes()))?;
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
pub fn row(r: &DocumentRecord) -> [Cow<'_, str>; 18] {
    let a = &r.analysis;
    let j = &r.judgement;
    let sources = joined(a.labels.sources.iter(), ";", |s, out| {
        out.push_str(s.kind.as_str());
        out.push(':');
        out.push_str(&s.value);
    });
    let detections = joined(a.detections.iter().filter(|d| d.fired), ";", |d, out| {
        out.push_str(&d.detector);
        out.push(':');
        out.push_str(&d.count.to_string());
    });
    let codes = joined(j.verdicts.iter(), ";", |v, out| {
        out.push_str(v.code.as_str())
    });
    let reasons = joined(
        j.verdicts.iter().filter(|v| !v.reason.is_empty()),
        "; ",
        |v, out| {
            out.push_str(v.code.as_str());
            out.push_str(": ");
            out.push_str(&v.reason);
        },
    );
    [
        Cow::Borrowed(r.path.as_str()),
        Cow::Borrowed(r.format()),
        Cow::Owned(a.size.to_string()),
        Cow::Borrowed(a.sha256.as_str()),
        Cow::Borrowed(r.level().unwrap_or_default()),
        Cow::Owned(sources),
        Cow::Owned(j.released_to.join(";")),
        Cow::Borrowed(
            a.labels
                .strictest_tlp()
                .map(|t| t.as_str())
                .unwrap_or_default(),
        ),
        Cow::Borrowed(r.suggested_level()),
        Cow::Owned(detections),
        Cow::Owned(codes),
        Cow::Owned(reasons),
        Cow::Borrowed(
            a.error
                .as_ref()
                .map(|e| e.kind.as_str())
                .unwrap_or_default(),
        ),
        Cow::Owned(r.origin.modified_iso()),
        Cow::Borrowed(r.origin.owner.as_deref().unwrap_or_default()),
        Cow::Owned(a.text_chars.to_string()),
        Cow::Borrowed(r.id.as_str()),
        Cow::Owned(j.excepted().join(";")),
    ]
    .map(defused)
}

/// The items `write` writes, separated by `separator`.
fn joined<T>(
    items: impl Iterator<Item = T>,
    separator: &str,
    write: impl Fn(T, &mut String),
) -> String {
    let mut out = String::new();
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push_str(separator);
        }
        write(item, &mut out);
    }
    out
}

/// [`defuse`] that copies only a cell it changes.
fn defused(cell: Cow<'_, str>) -> Cow<'_, str> {
    if needs_defusing(&cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        cell
    }
}

fn needs_defusing(cell: &str) -> bool {
    matches!(
        cell.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    )
}

/// Prefixes a cell that a spreadsheet would run as a formula with `'`.
pub fn defuse(cell: &str) -> String {
    defused(Cow::Borrowed(cell)).into_owned()
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
