//! report.html's rows rendered during the scan. The JSONL sink hands each
//! `findings.jsonl` line over as it writes it, on the worker that delivers
//! the record, so that the render after the run only copies the rows: on
//! the 20,000-file benchmark, rendering them from the finished file was the
//! last tenth of a second of the run, on one core and a half.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::rows;
use crate::model::DocumentRecord;
use crate::report::fs_safe;

/// The rows' file in the staging folder: removed before the set is
/// committed, so it is never in the manifest.
pub const ROWS_AHEAD_FILE: &str = ".report-rows.partial";

/// Renders each record into the rows' file, as `write_rows` would from its
/// findings line.
pub struct RowsAhead {
    out: BufWriter<File>,
    roots: Vec<String>,
    /// The row being rendered, kept for its capacity.
    row: Vec<u8>,
    /// Where the current line holds each field of the row's detail.
    detail: rows::DetailAt,
}

impl RowsAhead {
    /// Starts the rows' file in `staging` for a run over `roots`.
    pub fn create(staging: &Path, roots: &[String]) -> io::Result<RowsAhead> {
        Ok(RowsAhead {
            out: BufWriter::with_capacity(
                256 * 1024,
                fs_safe::create_new(&staging.join(ROWS_AHEAD_FILE))?,
            ),
            roots: roots.to_vec(),
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
    /// as ",\n" and the row, like every row of the array.
    pub fn add(&mut self, record: &DocumentRecord, line: &[u8]) -> io::Result<()> {
        self.row.clear();
        self.row.extend_from_slice(b",\n");
        rows::write_row_of(record, line, &self.detail, &self.roots, &mut self.row);
        self.out.write_all(&self.row)
    }

    pub fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The rows rendered ahead in the staging folder `dir`, when there are.
pub fn rows_ahead_in(dir: &Path) -> Option<PathBuf> {
    let path = dir.join(ROWS_AHEAD_FILE);
    std::fs::symlink_metadata(&path)
        .is_ok_and(|m| m.is_file())
        .then_some(path)
}

/// Removes the rows rendered ahead from the staging folder `dir`.
pub fn remove_rows_ahead(dir: &Path) -> io::Result<()> {
    match std::fs::remove_file(dir.join(ROWS_AHEAD_FILE)) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Writes the findings array from the rows rendered ahead at `path`: the
/// first row loses its comma, as in `write_rows`.
pub fn copy_rows(path: &Path, out: &mut impl Write) -> io::Result<()> {
    let mut rows = fs_safe::open_read(path)?;
    out.write_all(b"[")?;
    let mut comma = [0u8; 1];
    if rows.read(&mut comma)? == 1 && comma[0] != b',' {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "report.html rows: not rendered by this run",
        ));
    }
    io::copy(&mut rows, out)?;
    out.write_all(b"\n]")
}
