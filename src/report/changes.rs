//! `changes.csv` and `changes.jsonl`: what changed since the previous
//! completed run over the same PATHs (SPEC "Scheduled scans"), one row per
//! document that is new, removed or judged differently.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use super::csv_report::{create_csv, defuse};
use crate::model::{Change, ChangeKind, DocumentState};

pub const HEADER: [&str; 11] = [
    "change",
    "path",
    "level_before",
    "level_after",
    "suggested_before",
    "suggested_after",
    "verdicts_before",
    "verdicts_after",
    "cause",
    "excepted_before",
    "excepted_after",
];

/// Writes both change reports side by side.
pub struct ChangesWriter {
    csv: csv::Writer<super::ReportWriter>,
    jsonl: super::ReportWriter,
}

#[derive(Serialize)]
struct ChangeLine<'a> {
    change: ChangeKind,
    path: &'a str,
    level_before: &'a str,
    level_after: &'a str,
    suggested_before: &'a str,
    suggested_after: &'a str,
    verdicts_before: Vec<&'a str>,
    verdicts_after: Vec<&'a str>,
    cause: &'a str,
    excepted_before: Vec<&'a str>,
    excepted_after: Vec<&'a str>,
}

fn field(state: Option<&DocumentState>, get: fn(&DocumentState) -> &str) -> &str {
    state.map(get).unwrap_or_default()
}

fn items(text: &str) -> Vec<&str> {
    text.split(';').filter(|s| !s.is_empty()).collect()
}

impl ChangesWriter {
    pub fn create(csv_path: &Path, jsonl_path: &Path) -> std::io::Result<ChangesWriter> {
        Ok(ChangesWriter {
            csv: create_csv(csv_path, &HEADER)?,
            jsonl: super::create_buffered(jsonl_path)?,
        })
    }

    pub fn write(&mut self, change: &Change) -> std::io::Result<()> {
        let (b, a) = (change.before.as_ref(), change.after.as_ref());
        let line = ChangeLine {
            change: change.kind,
            path: change.path(),
            level_before: field(b, |s| &s.level),
            level_after: field(a, |s| &s.level),
            suggested_before: field(b, |s| &s.suggested),
            suggested_after: field(a, |s| &s.suggested),
            verdicts_before: items(field(b, |s| &s.verdicts)),
            verdicts_after: items(field(a, |s| &s.verdicts)),
            cause: &change.cause,
            excepted_before: items(field(b, |s| &s.excepted)),
            excepted_after: items(field(a, |s| &s.excepted)),
        };
        let row = [
            change.kind.as_str(),
            line.path,
            line.level_before,
            line.level_after,
            line.suggested_before,
            line.suggested_after,
            field(b, |s| &s.verdicts),
            field(a, |s| &s.verdicts),
            line.cause,
            field(b, |s| &s.excepted),
            field(a, |s| &s.excepted),
        ];
        self.csv.write_record(row.map(defuse))?;
        serde_json::to_writer(&mut self.jsonl, &line)?;
        self.jsonl.write_all(b"\n")
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        self.csv.flush()?;
        self.jsonl.flush()
    }
}
