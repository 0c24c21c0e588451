//! `findings.xlsx` (`--formats ...,xlsx`): a summary sheet with the scope
//! and headline counts, then the findings with the columns of
//! `findings.csv`, a header row, frozen panes, a filter on every column and
//! set widths. Rendered like `report.html` from the run's finished files,
//! one record at a time (rust_xlsxwriter's constant-memory sheets spill
//! rows to an unnamed temporary file). Every value from a document is
//! written as a string cell, so no formula can be injected; more findings
//! than a sheet holds go on to further sheets, and the summary says so.

use std::io::{self, Write};
use std::path::Path;

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};
use serde_json::Value;

use super::csv_report::HEADER;
use super::html::{RunFiles, RunSummary};

pub const XLSX_FILE: &str = "findings.xlsx";
/// Rows of findings per sheet: Excel's 1,048,576 rows less the header.
pub const ROWS_PER_SHEET: u32 = 1_048_575;
/// The longest text an Excel cell holds.
const MAX_CELL_CHARS: usize = 32_767;
const WIDTHS: [f64; 18] = [
    60.0, 10.0, 10.0, 20.0, 14.0, 30.0, 22.0, 8.0, 14.0, 24.0, 28.0, 60.0, 12.0, 21.0, 12.0, 10.0,
    18.0, 20.0,
];

fn xlsx_error(e: XlsxError) -> io::Error {
    io::Error::other(format!("writing {XLSX_FILE}: {e}"))
}

/// Renders the run in `run` into a new workbook at `out`.
pub fn render(run: &RunFiles, out: &Path) -> io::Result<()> {
    render_split(run, out, ROWS_PER_SHEET)
}

/// [`render`] with at most `per_sheet` findings a sheet (tests split small).
pub fn render_split(run: &RunFiles, out: &Path, per_sheet: u32) -> io::Result<()> {
    let summary = run.summary()?;
    let sheets = sheet_count(summary.documents, per_sheet);
    let mut workbook = Workbook::new();
    // Constant-memory sheets spill their rows to unnamed temporary files:
    // beside the workbook, inside --out, never in the system's temp folder.
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        workbook.set_tempdir(dir).map_err(xlsx_error)?;
    }
    workbook.set_properties(&properties(&summary)?);
    summary_sheet(workbook.add_worksheet(), &summary, sheets, per_sheet).map_err(xlsx_error)?;
    let mut findings = run.findings()?;
    for n in 1..=sheets {
        let sheet = workbook
            .add_worksheet_with_constant_memory()
            .map_err(xlsx_error)?;
        findings_sheet(sheet, n, &mut findings, per_sheet)?;
    }
    let mut file = super::create_buffered(out)?;
    workbook.save_to_writer(&mut file).map_err(xlsx_error)?;
    file.flush()
}

fn sheet_count(documents: u64, per_sheet: u32) -> u32 {
    documents.div_ceil(u64::from(per_sheet)).max(1) as u32
}

/// Fixed document properties: the run's finish time, never the time of
/// rendering, so that `labelscan report` writes the same bytes.
fn properties(s: &RunSummary) -> io::Result<DocProperties> {
    let finished = s.finished_at.trim_end_matches('Z');
    let mut props = DocProperties::new()
        .set_title(format!("labelscan findings, run {}", s.run_id))
        .set_author("labelscan");
    if let Ok(time) = ExcelDateTime::parse_from_str(finished) {
        props = props.set_creation_datetime(&time);
    } else {
        props =
            props.set_creation_datetime(&ExcelDateTime::from_ymd(2000, 1, 1).map_err(xlsx_error)?);
    }
    Ok(props)
}

fn summary_sheet(
    sheet: &mut Worksheet,
    s: &RunSummary,
    sheets: u32,
    per_sheet: u32,
) -> Result<(), XlsxError> {
    let bold = Format::new().set_bold();
    sheet.set_name("Summary")?;
    sheet.set_column_width(0, 28)?;
    sheet.set_column_width(1, 80)?;
    let facts: Vec<(&str, String)> = vec![
        ("Run", s.run_id.clone()),
        ("Tool", format!("{} {}", s.tool, s.version)),
        ("Policy", s.policy.clone()),
        ("Policy name", s.policy_name.clone().unwrap_or_default()),
        (
            "Policy version",
            s.policy_version.clone().unwrap_or_default(),
        ),
        ("Policy SHA-256", s.policy_sha256.clone()),
        ("Detectors SHA-256", s.detectors_sha256.clone()),
        ("As-of date", s.as_of.clone()),
        ("PATHs given", s.paths.join("; ")),
        ("PATHs walked (resolved)", s.paths_resolved.join("; ")),
        ("Host", s.host.clone()),
        ("User", s.user.clone()),
        ("Started (UTC)", s.started_at.clone()),
        ("Finished (UTC)", s.finished_at.clone()),
        ("Complete", yes_no(s.complete)),
        (
            "Values from documents",
            if s.show_values {
                "shown unmasked"
            } else {
                "masked"
            }
            .into(),
        ),
        ("Findings sheets", findings_note(sheets, per_sheet)),
    ];
    let mut row = 0;
    for (key, value) in facts {
        sheet.write_string_with_format(row, 0, key, &bold)?;
        sheet.write_string(row, 1, cell_text(&value))?;
        row += 1;
    }
    let counts = [
        ("Documents", s.documents),
        ("Files scanned", s.files_scanned),
        ("Paths skipped", s.files_skipped),
        ("Documents failing --fail-on", s.documents_failing),
    ];
    row += 1;
    for (key, n) in counts {
        sheet.write_string_with_format(row, 0, key, &bold)?;
        sheet.write_number(row, 1, n as f64)?;
        row += 1;
    }
    row += 1;
    sheet.write_string_with_format(row, 0, "Verdict", &bold)?;
    sheet.write_string_with_format(row, 1, "Documents", &bold)?;
    for (code, n) in &s.verdicts {
        row += 1;
        sheet.write_string(row, 0, code)?;
        sheet.write_number(row, 1, *n as f64)?;
    }
    Ok(())
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_string()
}

fn findings_note(sheets: u32, per_sheet: u32) -> String {
    if sheets == 1 {
        "one sheet, Findings".to_string()
    } else {
        format!("the findings are split over {sheets} sheets (Findings, Findings 2, ...) of at most {per_sheet} rows each, more than one sheet holds")
    }
}

fn findings_sheet(
    sheet: &mut Worksheet,
    n: u32,
    findings: &mut impl Iterator<Item = io::Result<Value>>,
    per_sheet: u32,
) -> io::Result<()> {
    let name = if n == 1 {
        "Findings".to_string()
    } else {
        format!("Findings {n}")
    };
    let bold = Format::new().set_bold();
    let setup = |sheet: &mut Worksheet| -> Result<(), XlsxError> {
        sheet.set_name(&name)?;
        // Widths first: a constant-memory sheet writes its columns before its rows.
        for (col, width) in WIDTHS.iter().enumerate() {
            sheet.set_column_width(col as u16, *width)?;
        }
        for (col, title) in HEADER.iter().enumerate() {
            sheet.write_string_with_format(0, col as u16, *title, &bold)?;
        }
        sheet.set_freeze_panes(1, 0)?;
        Ok(())
    };
    setup(sheet).map_err(xlsx_error)?;
    let mut rows = 0u32;
    while rows < per_sheet {
        let Some(record) = findings.next() else { break };
        rows += 1;
        for (col, value) in cells(&record?).iter().enumerate() {
            sheet
                .write_string(rows, col as u16, cell_text(value))
                .map_err(xlsx_error)?;
        }
    }
    sheet
        .autofilter(0, 0, rows, (HEADER.len() - 1) as u16)
        .map_err(xlsx_error)?;
    Ok(())
}

/// A cell's text, cut to what a cell holds.
fn cell_text(value: &str) -> String {
    if value.chars().count() <= MAX_CELL_CHARS {
        return value.to_string();
    }
    let mut cut: String = value.chars().take(MAX_CELL_CHARS - 1).collect();
    cut.push('…');
    cut
}

fn text<'a>(record: &'a Value, key: &str) -> &'a str {
    record.get(key).and_then(Value::as_str).unwrap_or("")
}

fn number(record: &Value, key: &str) -> String {
    record.get(key).map(|v| v.to_string()).unwrap_or_default()
}

fn items<'a>(record: &'a Value, key: &str) -> Vec<&'a Value> {
    record
        .get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn joined(record: &Value, key: &str) -> String {
    items(record, key)
        .iter()
        .filter_map(|v| v.as_str())
        .collect::<Vec<_>>()
        .join(";")
}

/// The cells of `findings.csv`'s row for a `findings.jsonl` record, as the
/// values themselves (the CSV prefixes would-be formulas with `'`; a string
/// cell needs no such guard).
pub fn cells(r: &Value) -> [String; 18] {
    let sources: Vec<String> = items(r, "label_sources")
        .iter()
        .map(|s| format!("{}:{}", text(s, "kind"), text(s, "value")))
        .collect();
    let detections: Vec<String> = items(r, "detections")
        .iter()
        .filter(|d| d.get("fired") == Some(&Value::Bool(true)))
        .map(|d| format!("{}:{}", text(d, "detector"), number(d, "count")))
        .collect();
    let reasons: Vec<String> = items(r, "reasons")
        .iter()
        .filter(|v| !text(v, "reason").is_empty())
        .map(|v| format!("{}: {}", text(v, "code"), text(v, "reason")))
        .collect();
    [
        text(r, "path").to_string(),
        text(r, "format").to_string(),
        number(r, "size"),
        text(r, "sha256").to_string(),
        text(r, "level").to_string(),
        sources.join(";"),
        joined(r, "released_to"),
        text(r, "tlp").to_string(),
        text(r, "suggested_level").to_string(),
        detections.join(";"),
        joined(r, "verdicts"),
        reasons.join("; "),
        text(r, "error").to_string(),
        text(r, "modified").to_string(),
        text(r, "owner").to_string(),
        number(r, "text_chars"),
        text(r, "doc_id").to_string(),
        joined(r, "excepted"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheets_split_past_the_row_limit() {
        assert_eq!(sheet_count(0, ROWS_PER_SHEET), 1);
        assert_eq!(sheet_count(1_048_575, ROWS_PER_SHEET), 1);
        assert_eq!(sheet_count(1_048_576, ROWS_PER_SHEET), 2);
        assert!(findings_note(2, 10).contains("split over 2 sheets"));
    }

    #[test]
    fn findings_beyond_a_sheet_go_on_to_the_next_and_the_summary_says_so() {
        use calamine::{Reader, Xlsx};
        let dir = tempfile::tempdir().unwrap();
        let summary = r#"{"run_id": "r1", "documents": 5, "finished_at": "2026-01-02T03:04:05Z"}"#;
        std::fs::write(dir.path().join(super::super::SUMMARY_FILE), summary).unwrap();
        let lines: String = (0..5)
            .map(|i| format!("{{\"path\": \"=cmd|{i}\", \"verdicts\": [\"OK\"]}}\n"))
            .collect();
        std::fs::write(dir.path().join(super::super::JSONL_FILE), lines).unwrap();
        let out = dir.path().join(XLSX_FILE);
        render_split(&RunFiles::new(dir.path()), &out, 2).unwrap();
        let mut book: Xlsx<_> = calamine::open_workbook(&out).unwrap();
        assert_eq!(
            book.sheet_names(),
            ["Summary", "Findings", "Findings 2", "Findings 3"]
        );
        let last = book.worksheet_range("Findings 3").unwrap();
        assert_eq!(last.height(), 2, "the header and the fifth finding");
        assert_eq!(
            last.get((1, 0)),
            Some(&calamine::Data::String("=cmd|4".into())),
            "a string, not a formula"
        );
        let facts = book.worksheet_range("Summary").unwrap();
        let split = facts
            .rows()
            .any(|r| r[1].to_string().contains("split over 3 sheets"));
        assert!(split);
    }

    #[test]
    fn long_cells_are_cut_to_what_excel_holds() {
        let long = "x".repeat(40_000);
        assert_eq!(cell_text(&long).chars().count(), MAX_CELL_CHARS);
        assert_eq!(cell_text("=1+1"), "=1+1", "a string cell, not a formula");
    }
}
