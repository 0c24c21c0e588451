//! report.html's rows rendered during the scan, straight into the staged
//! page. The JSONL sink hands each `findings.jsonl` line over as it writes
//! it, on the worker that delivers the record, so that the render after
//! the run only appends what shows the run (see `page::after_rows`): on the
//! 20,000-file benchmark, rendering the rows from the finished file was
//! the last tenth of a second of the run, and copying them from a file of
//! their own, then hashing the page for the manifest, the last 50 ms of
//! an unchanged rescan. The end of a multi-host run hands the lines over
//! as it merges them from the units' results (`queue::write_rows`).

use std::io::{self, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::{page, rows, HTML_FILE};
use crate::model::DocumentRecord;
use crate::report::ReportWriter;

/// Renders each record into the staged report.html, as `write_rows`
/// would from its findings line.
pub struct RowsAhead {
    out: ReportWriter,
    roots: Vec<String>,
    /// No row written yet: the array's first row has no comma before it.
    first: bool,
    /// The row being rendered, kept for its capacity.
    row: Vec<u8>,
    /// Where the current line holds each field of the row's detail.
    detail: rows::DetailAt,
}

impl RowsAhead {
    /// Starts report.html in `staging` for a run over `roots`, up to the
    /// findings array's first row.
    pub fn create(staging: &Path, roots: &[String]) -> io::Result<RowsAhead> {
        let mut out = crate::report::create_buffered(&staging.join(HTML_FILE))?;
        out.write_all(page::before_rows().as_bytes())?;
        out.write_all(b"[")?;
        Ok(RowsAhead {
            out,
            roots: roots.to_vec(),
            first: true,
            row: Vec::new(),
            detail: rows::DetailAt::default(),
        })
    }

    /// Forgets the fields noted for the line before.
    pub fn clear(&mut self) {
        self.detail = rows::DetailAt::default();
    }

    /// Notes where the line being written holds the field `key`.
    pub fn note(&mut self, key: &str, at: Range<usize>) {
        self.detail.note(key, at);
    }

    /// Renders `record`, whose findings line is `line` (its fields noted),
    /// as ",\n" and the row, like every row of the array but the first.
    pub fn add(&mut self, record: &DocumentRecord, line: &[u8]) -> io::Result<()> {
        self.start_row();
        rows::write_row_of(record, line, &self.detail, &self.roots, &mut self.row);
        self.out.write_all(&self.row)
    }

    /// Empties the row buffer and puts the separator before the next row.
    fn start_row(&mut self) {
        self.row.clear();
        let separator: &[u8] = if self.first { b"\n" } else { b",\n" };
        self.first = false;
        self.row.extend_from_slice(separator);
    }

    /// Renders each line of `lines`, whole `findings.jsonl` lines in the
    /// file's order, as `render` renders them from the file: for a run
    /// whose lines are written by one host from other hosts' results.
    pub fn add_lines(&mut self, lines: &[u8]) -> io::Result<()> {
        let not_a_record = || {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "a findings line is not a findings record",
            )
        };
        let text = std::str::from_utf8(lines).map_err(|_| not_a_record())?;
        let each_line = text.split('\n').map(|l| l.trim_end_matches('\r'));
        for line in each_line.filter(|l| !l.is_empty()) {
            self.start_row();
            rows::write_row(line, &self.roots, &mut self.row).map_err(|_| not_a_record())?;
            self.out.write_all(&self.row)?;
        }
        Ok(())
    }

    /// Closes the findings array; the page is finished by `render`.
    pub fn finish(&mut self) -> io::Result<()> {
        self.out.write_all(b"\n]")?;
        self.out.flush()
    }
}

/// The staged report.html whose rows this run wrote, in the staging folder `dir`.
pub fn rows_ahead_in(dir: &Path) -> Option<PathBuf> {
    let path = dir.join(HTML_FILE);
    std::fs::symlink_metadata(&path)
        .is_ok_and(|m| m.is_file())
        .then_some(path)
}
