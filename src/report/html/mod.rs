//! `report.html`: the auditor report, one self-contained page rendered
//! from a finished run's files (`summary.json`, `findings.jsonl`,
//! `changes.jsonl`) and the policy the run applied. It is rendered after
//! the sinks have finished, from the staged files during a scan and from
//! the committed ones by `labelscan report`, so both write the same bytes
//! and the scan holds no record for it: the findings are streamed from
//! `findings.jsonl` twice (once for the charts' counts, once into the page),
//! each line parsed in place, its evidence copied as raw JSON text.

use std::io::{self, BufRead, Write};
use std::path::Path;

use serde_json::Value;

mod charts;
mod page;
mod rows;
mod run;

pub use run::{RunFiles, RunSummary};

/// The report's file name in the report set.
pub const HTML_FILE: &str = "report.html";

/// Renders the run in `run` with its `policy` (`labelscan policy show
/// --json` of the policy it applied) into a new file at `out`.
pub fn render(run: &RunFiles, policy: &Value, out: &Path) -> io::Result<()> {
    let summary = run.summary()?;
    let mut aggregates = rows::Aggregates::default();
    for_each_finding(run, |line| Ok(aggregates.count(line)?))?;
    let changes = first_changes(run)?;
    let cx = page::Context {
        summary: &summary,
        policy,
        aggregates: &aggregates,
        changes,
    };
    let mut file = super::create_buffered(out)?;
    file.write_all(page::opening(&cx).as_bytes())?;
    write_rows(run, &summary.paths_walked, &mut file)?;
    file.write_all(page::closing().as_bytes())?;
    file.flush()
}

/// The findings as one JSON array, a row a line.
fn write_rows(run: &RunFiles, roots: &[String], out: &mut impl Write) -> io::Result<()> {
    let mut row = Vec::with_capacity(64 * 1024);
    row.push(b'[');
    let mut first = true;
    for_each_finding(run, |line| {
        if !first {
            row.push(b',');
        }
        first = false;
        row.push(b'\n');
        rows::write_row(line, roots, &mut row)?;
        if row.len() >= 48 * 1024 {
            out.write_all(&row)?;
            row.clear();
        }
        Ok(())
    })?;
    row.extend_from_slice(b"\n]");
    out.write_all(&row)
}

/// Calls `each` with every line of `findings.jsonl`. A bad line's error
/// names its number only: its text comes from documents.
fn for_each_finding(
    run: &RunFiles,
    mut each: impl FnMut(&str) -> io::Result<()>,
) -> io::Result<()> {
    let mut lines = run.finding_lines()?;
    let mut line = String::new();
    let mut number = 0u64;
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        number += 1;
        let text = line.trim_end_matches(['\n', '\r']);
        if text.is_empty() {
            continue;
        }
        each(text).map_err(|e| match e.kind() {
            io::ErrorKind::InvalidData => io::Error::new(
                io::ErrorKind::InvalidData,
                format!("findings.jsonl line {number}: not a findings record"),
            ),
            _ => e,
        })?;
    }
}

/// The first changes to list and how many there are; `None` without a
/// state store.
fn first_changes(run: &RunFiles) -> io::Result<Option<(Vec<run::ChangeLine>, u64)>> {
    let Some(changes) = run.changes()? else {
        return Ok(None);
    };
    let mut listed = Vec::new();
    let mut total = 0u64;
    for change in changes {
        let change = change?;
        total += 1;
        if listed.len() < page::MAX_CHANGES_LISTED {
            listed.push(change);
        }
    }
    Ok(Some((listed, total)))
}
