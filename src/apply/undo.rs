//! `labelscan undo APPLY_CSV`: takes back what one `apply` wrote, from its
//! `apply.csv`. For each `applied` row: with `--in-place` the original is
//! copied back from the backup folder (temporary file and rename, the
//! backup's times and permissions, which are the original's); for copies
//! under DEST the copy is removed. Only a file whose SHA-256 is still the
//! one apply wrote (`sha256_after`) is touched, and a backup only restored
//! when its SHA-256 is the original's (`sha256_before`): whatever changed
//! since is left alone and listed. Backups are kept. Every decision goes
//! to `undo.csv`.

use std::io;
use std::path::{Path, PathBuf};

use super::csv_out::DecisionCsv;
use super::write::{self, Existing};
use crate::model::hash::hex_sha256;
use crate::report::csv_report::defuse;

/// What `undo` did with one row of `apply.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum UndoStatus {
    /// The original is back in place.
    Restored,
    /// The labelled copy is gone.
    Removed,
    /// `--dry-run`: it would have been restored or removed.
    WouldUndo,
    /// Nothing to do: the original is already there, or the copy is gone.
    AlreadyUndone,
    /// Left alone: changed since apply, or the backup is not the original.
    Skipped,
    /// An error; the file is as it was.
    Failed,
}

impl UndoStatus {
    pub const ALL: [UndoStatus; 6] = [
        UndoStatus::Restored,
        UndoStatus::Removed,
        UndoStatus::WouldUndo,
        UndoStatus::AlreadyUndone,
        UndoStatus::Skipped,
        UndoStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UndoStatus::Restored => "restored",
            UndoStatus::Removed => "removed",
            UndoStatus::WouldUndo => "would_undo",
            UndoStatus::AlreadyUndone => "already_undone",
            UndoStatus::Skipped => "skipped",
            UndoStatus::Failed => "failed",
        }
    }
}

/// One `applied` row of `apply.csv`: what was written where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub path: String,
    /// The file apply wrote: the copy under DEST, or the original.
    pub dest: PathBuf,
    /// With `--in-place`, the original's copy; else `None`.
    pub backup: Option<PathBuf>,
    pub sha256_before: String,
    pub sha256_after: String,
}

/// One row of `undo.csv`.
#[derive(Debug, Clone)]
pub struct UndoRow {
    pub path: String,
    pub file: String,
    pub action: &'static str,
    pub status: UndoStatus,
    pub reason: String,
}

/// The `applied` rows of an `apply.csv` (other rows wrote nothing).
pub fn read_apply_csv(path: &Path) -> Result<Vec<Applied>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header = reader
        .headers()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .clone();
    let column = |name: &str| {
        header.iter().position(|h| h == name).ok_or_else(|| {
            format!(
                "{}: no column {name}: not an apply.csv written by labelscan apply",
                path.display()
            )
        })
    };
    let [path_at, status_at, dest_at, backup_at, before_at, after_at] = [
        "path",
        "status",
        "dest",
        "backup",
        "sha256_before",
        "sha256_after",
    ]
    .map(column);
    let (path_at, status_at, dest_at) = (path_at?, status_at?, dest_at?);
    let (backup_at, before_at, after_at) = (backup_at?, before_at?, after_at?);
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("{}: {e}", path.display()))?;
        let cell = |i: usize| undefuse(record.get(i).unwrap_or(""));
        if cell(status_at) != "applied" {
            continue;
        }
        let backup = cell(backup_at);
        rows.push(Applied {
            path: cell(path_at),
            dest: PathBuf::from(cell(dest_at)),
            backup: (!backup.is_empty()).then(|| PathBuf::from(backup)),
            sha256_before: cell(before_at),
            sha256_after: cell(after_at),
        });
    }
    Ok(rows)
}

/// A cell as written before [`defuse`] guarded it.
fn undefuse(cell: &str) -> String {
    match cell.strip_prefix('\'') {
        Some(rest) if defuse(rest) == cell => rest.to_string(),
        _ => cell.to_string(),
    }
}

/// Undoes one applied file, unless `dry_run`.
pub fn undo_one(row: &Applied, dry_run: bool) -> UndoRow {
    let (action, outcome) = match &row.backup {
        Some(backup) => ("restore", restore(row, backup, dry_run)),
        None => ("remove", remove(row, dry_run)),
    };
    let (status, reason) = match outcome {
        Ok((status, reason)) => (status, reason),
        Err(e) => (UndoStatus::Failed, e),
    };
    UndoRow {
        path: row.path.clone(),
        file: row.dest.display().to_string(),
        action,
        status,
        reason,
    }
}

type Outcome = Result<(UndoStatus, String), String>;

fn skipped(why: impl Into<String>) -> Outcome {
    Ok((UndoStatus::Skipped, why.into()))
}

/// The file's SHA-256, or `None` when it is not there.
fn digest_of(path: &Path) -> Result<Option<String>, String> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(hex_sha256(&bytes))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("reading {}: {e}", path.display())),
    }
}

/// `--in-place`: the backup back over the labelled original.
fn restore(row: &Applied, backup: &Path, dry_run: bool) -> Outcome {
    match digest_of(&row.dest)? {
        None => return skipped("the labelled file no longer exists; the backup is left as it is"),
        Some(d) if d == row.sha256_before => {
            return Ok((UndoStatus::AlreadyUndone, "the original is in place".into()))
        }
        Some(d) if d != row.sha256_after => {
            return skipped(
                "changed since apply (SHA-256 differs from sha256_after); left as it is",
            )
        }
        Some(_) => {}
    }
    let bytes = match std::fs::read(backup) {
        Ok(bytes) => bytes,
        Err(e) => return skipped(format!("the backup cannot be read ({e}); left as it is")),
    };
    if hex_sha256(&bytes) != row.sha256_before {
        return skipped(
            "the backup is not the original (SHA-256 differs from sha256_before); left as it is",
        );
    }
    if dry_run {
        return Ok((UndoStatus::WouldUndo, String::new()));
    }
    let like = std::fs::metadata(backup).map_err(|e| format!("reading the backup: {e}"))?;
    write::write_file(&row.dest, &bytes, &like, Existing::Replace)
        .map_err(|e| format!("writing over the labelled file: {e}"))?;
    Ok((UndoStatus::Restored, String::new()))
}

/// `--to`: the labelled copy goes.
fn remove(row: &Applied, dry_run: bool) -> Outcome {
    match digest_of(&row.dest)? {
        None => Ok((UndoStatus::AlreadyUndone, "the copy is not there".into())),
        Some(d) if d != row.sha256_after => {
            skipped("changed since apply (SHA-256 differs from sha256_after); left as it is")
        }
        Some(_) if dry_run => Ok((UndoStatus::WouldUndo, String::new())),
        Some(_) => {
            std::fs::remove_file(&row.dest).map_err(|e| format!("removing the copy: {e}"))?;
            Ok((UndoStatus::Removed, String::new()))
        }
    }
}

/// The columns of `undo.csv`.
pub const HEADER: [&str; 5] = ["path", "file", "action", "status", "reason"];

/// `undo.csv`, written row by row.
pub struct UndoCsv {
    csv: DecisionCsv,
    pub path: Option<PathBuf>,
}

impl UndoCsv {
    /// A new `undo.csv` in `folder` (`undo-<time>.csv` beside an earlier one).
    pub fn create_in(folder: &Path) -> io::Result<UndoCsv> {
        Ok(UndoCsv::of(DecisionCsv::create_in(
            folder, "undo", &HEADER,
        )?))
    }

    pub fn stdout() -> io::Result<UndoCsv> {
        Ok(UndoCsv::of(DecisionCsv::stdout(&HEADER)?))
    }

    fn of(csv: DecisionCsv) -> UndoCsv {
        UndoCsv {
            path: csv.path.clone(),
            csv,
        }
    }

    pub fn write(&mut self, r: &UndoRow) -> io::Result<()> {
        let cells = [
            r.path.as_str(),
            &r.file,
            r.action,
            r.status.as_str(),
            &r.reason,
        ];
        self.csv.write_cells(&cells)
    }

    pub fn finish(self) -> io::Result<()> {
        self.csv.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(dir: &Path, backup: Option<&str>) -> Applied {
        Applied {
            path: "src/a.docx".into(),
            dest: dir.join("a.docx"),
            backup: backup.map(|b| dir.join(b)),
            sha256_before: hex_sha256(b"original"),
            sha256_after: hex_sha256(b"labelled"),
        }
    }

    #[test]
    fn restores_only_what_apply_wrote_from_a_true_backup() {
        let dir = tempfile::tempdir().unwrap();
        let row = applied(dir.path(), Some("backup.docx"));
        std::fs::write(dir.path().join("backup.docx"), b"original").unwrap();
        std::fs::write(&row.dest, b"edited since").unwrap();
        assert_eq!(undo_one(&row, false).status, UndoStatus::Skipped);
        assert_eq!(std::fs::read(&row.dest).unwrap(), b"edited since");
        std::fs::write(&row.dest, b"labelled").unwrap();
        assert_eq!(undo_one(&row, true).status, UndoStatus::WouldUndo);
        assert_eq!(std::fs::read(&row.dest).unwrap(), b"labelled");
        std::fs::write(dir.path().join("backup.docx"), b"not the original").unwrap();
        let refused = undo_one(&row, false);
        assert_eq!(refused.status, UndoStatus::Skipped);
        assert!(refused.reason.contains("backup is not the original"));
        std::fs::write(dir.path().join("backup.docx"), b"original").unwrap();
        assert_eq!(undo_one(&row, false).status, UndoStatus::Restored);
        assert_eq!(std::fs::read(&row.dest).unwrap(), b"original");
        assert_eq!(undo_one(&row, false).status, UndoStatus::AlreadyUndone);
    }

    #[test]
    fn removes_only_an_unchanged_copy() {
        let dir = tempfile::tempdir().unwrap();
        let row = applied(dir.path(), None);
        std::fs::write(&row.dest, b"changed").unwrap();
        assert_eq!(undo_one(&row, false).status, UndoStatus::Skipped);
        std::fs::write(&row.dest, b"labelled").unwrap();
        let done = undo_one(&row, false);
        assert_eq!((done.status, done.action), (UndoStatus::Removed, "remove"));
        assert!(!row.dest.exists());
        assert_eq!(undo_one(&row, false).status, UndoStatus::AlreadyUndone);
    }

    #[test]
    fn reads_applied_rows_and_undoes_the_csv_guard() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("apply.csv");
        std::fs::write(
            &csv,
            "\u{feff}path,status,dest,backup,sha256_before,sha256_after\n\
             '-a.docx,applied,'-a.docx,,b,c\n\
             x.pdf,skipped,,,d,\n",
        )
        .unwrap();
        let rows = read_apply_csv(&csv).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].path, "-a.docx");
        assert_eq!(rows[0].dest, PathBuf::from("-a.docx"));
        assert_eq!(rows[0].backup, None);
        assert_eq!(undefuse("'it's"), "'it's");
        std::fs::write(&csv, "path,status\n").unwrap();
        assert!(read_apply_csv(&csv).unwrap_err().contains("no column dest"));
    }
}
