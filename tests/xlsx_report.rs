//! findings.xlsx read back (calamine) holds what findings.csv holds: the
//! same header and rows, every cell a string, and a summary sheet with the
//! run's counts; `labelscan report DIR --formats xlsx` writes the same bytes.

mod common;

use calamine::{Data, Reader, Xlsx};

use common::{bin, repo, run, stderr};

/// What findings.csv makes of a cell a spreadsheet would run as a formula.
fn defused(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

#[test]
fn the_workbook_holds_the_csvs_rows_as_strings() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = run(bin()
        .current_dir(repo())
        .args([
            "scan",
            "examples",
            "--quiet",
            "--formats",
            "csv,jsonl,html,xlsx",
            "--out",
        ])
        .arg(&out));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let mut book: Xlsx<_> = calamine::open_workbook(out.join("findings.xlsx")).unwrap();
    assert_eq!(book.sheet_names(), ["Summary", "Findings"]);
    let sheet = book.worksheet_range("Findings").unwrap();
    let mut csv = csv::Reader::from_path(out.join("findings.csv")).unwrap();
    let header: Vec<String> = csv
        .headers()
        .unwrap()
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    let csv_rows: Vec<Vec<String>> = csv
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    let mut rows = sheet.rows();
    let xlsx_header: Vec<String> = rows.next().unwrap().iter().map(|c| c.to_string()).collect();
    assert_eq!(xlsx_header, header);
    let mut compared = 0;
    for (xlsx_row, csv_row) in rows.zip(&csv_rows) {
        for (cell, expected) in xlsx_row.iter().zip(csv_row) {
            match cell {
                Data::String(text) => assert_eq!(&defused(text), expected),
                Data::Empty => assert_eq!(expected, ""),
                other => panic!("a cell that is no string: {other:?}"),
            }
        }
        compared += 1;
    }
    assert_eq!(compared, csv_rows.len());
    assert_eq!(sheet.height(), csv_rows.len() + 1);

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let facts = book.worksheet_range("Summary").unwrap();
    let documents = facts
        .rows()
        .find(|r| r[0] == Data::String("Documents".into()))
        .map(|r| r[1].clone());
    assert_eq!(
        documents,
        Some(Data::Float(summary["documents"].as_f64().unwrap()))
    );

    // Rendered again from the run's files: the same bytes.
    let first = std::fs::read(out.join("findings.xlsx")).unwrap();
    let o = run(bin().args(["report", "--formats", "xlsx"]).arg(&out));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(std::fs::read(out.join("findings.xlsx")).unwrap() == first);
    let o = run(bin().arg("verify").arg(&out));
    assert_eq!(o.status.code(), Some(0), "{}", common::stdout(&o));
}
