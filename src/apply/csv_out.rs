//! `apply.csv`: one row per document of the run with the decision and its
//! reason. Each row is flushed as it is decided, so that an apply that is
//! stopped still leaves the record of every file it wrote.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::run::Finding;
use crate::report::csv_report::defuse;

/// What `apply` did with a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// The labelled file was written.
    Applied,
    /// `--dry-run`: it would have been written.
    WouldApply,
    /// It already carries the label.
    Unchanged,
    /// Its verdicts need a person (conflict, unknown label, unreadable, no text).
    NeedsReview,
    /// Not labelled, for the reason given (format, signature, changed since the scan ...).
    Skipped,
    /// An error; nothing was written for it.
    Failed,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Applied,
        Status::WouldApply,
        Status::Unchanged,
        Status::NeedsReview,
        Status::Skipped,
        Status::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Applied => "applied",
            Status::WouldApply => "would_apply",
            Status::Unchanged => "unchanged",
            Status::NeedsReview => "needs_review",
            Status::Skipped => "skipped",
            Status::Failed => "failed",
        }
    }
}

/// One row of `apply.csv`.
#[derive(Debug, Clone)]
pub struct Row {
    pub path: String,
    pub format: String,
    pub level_before: String,
    pub level_written: String,
    pub label_guid: String,
    pub marked: bool,
    pub status: Status,
    pub reason: String,
    pub dest: String,
    pub backup: String,
    pub sha256_before: String,
    pub sha256_after: String,
    pub verdicts_before: String,
    pub verdicts_after: String,
}

impl Row {
    pub fn of(f: &Finding) -> Row {
        Row {
            path: f.path.clone(),
            format: f.format.clone(),
            level_before: f.level.clone().unwrap_or_default(),
            level_written: String::new(),
            label_guid: String::new(),
            marked: false,
            status: Status::Failed,
            reason: String::new(),
            dest: String::new(),
            backup: String::new(),
            sha256_before: f.sha256.clone(),
            sha256_after: String::new(),
            verdicts_before: f.verdicts.join(";"),
            verdicts_after: String::new(),
        }
    }
}

/// The columns: the SPEC's six first, then the evidence.
pub const HEADER: [&str; 14] = [
    "path",
    "level_before",
    "level_written",
    "label_guid",
    "marked",
    "status",
    "reason",
    "format",
    "dest",
    "backup",
    "sha256_before",
    "sha256_after",
    "verdicts_before",
    "verdicts_after",
];

/// A decision log (`apply.csv`, `undo.csv`), written and flushed row by
/// row: a file new in its folder (an earlier one is kept, this one then
/// named `<stem>-<time>.csv`) or standard output, with a byte-order mark
/// as findings.csv has, so that spreadsheets read UTF-8.
pub struct DecisionCsv {
    out: csv::Writer<Box<dyn Write + Send>>,
    pub path: Option<PathBuf>,
}

impl DecisionCsv {
    pub fn create_in(folder: &Path, stem: &str, header: &[&str]) -> io::Result<DecisionCsv> {
        std::fs::create_dir_all(folder)?;
        let mut path = folder.join(format!("{stem}.csv"));
        if std::fs::symlink_metadata(&path).is_ok() {
            let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
            path = folder.join(format!("{stem}-{stamp}.csv"));
        }
        let file = File::options().write(true).create_new(true).open(&path)?;
        DecisionCsv::start(Box::new(file), Some(path), header)
    }

    pub fn stdout(header: &[&str]) -> io::Result<DecisionCsv> {
        DecisionCsv::start(Box::new(io::stdout()), None, header)
    }

    fn start(
        mut sink: Box<dyn Write + Send>,
        path: Option<PathBuf>,
        header: &[&str],
    ) -> io::Result<DecisionCsv> {
        sink.write_all("\u{feff}".as_bytes())?;
        let mut out = csv::Writer::from_writer(sink);
        out.write_record(header)?;
        out.flush()?;
        Ok(DecisionCsv { out, path })
    }

    /// One row, each cell defused against spreadsheet formulas.
    pub fn write_cells(&mut self, cells: &[&str]) -> io::Result<()> {
        self.out.write_record(cells.iter().map(|c| defuse(c)))?;
        self.out.flush()
    }

    /// Flushes and syncs the file.
    pub fn finish(mut self) -> io::Result<()> {
        self.out.flush()?;
        if let Some(path) = &self.path {
            File::open(path)?.sync_all()?;
        }
        Ok(())
    }
}

/// `apply.csv`, written row by row.
pub struct ApplyCsv {
    csv: DecisionCsv,
    pub path: Option<PathBuf>,
}

impl ApplyCsv {
    /// A new `apply.csv` in `folder`; an earlier one is kept, and this
    /// one is named `apply-<time>.csv` instead.
    pub fn create_in(folder: &Path) -> io::Result<ApplyCsv> {
        Ok(ApplyCsv::of(DecisionCsv::create_in(
            folder, "apply", &HEADER,
        )?))
    }

    /// `apply.csv` on standard output (`--dry-run` without `--out`).
    pub fn stdout() -> io::Result<ApplyCsv> {
        Ok(ApplyCsv::of(DecisionCsv::stdout(&HEADER)?))
    }

    fn of(csv: DecisionCsv) -> ApplyCsv {
        ApplyCsv {
            path: csv.path.clone(),
            csv,
        }
    }

    pub fn write(&mut self, r: &Row) -> io::Result<()> {
        let cells = [
            r.path.as_str(),
            &r.level_before,
            &r.level_written,
            &r.label_guid,
            if r.marked { "yes" } else { "no" },
            r.status.as_str(),
            &r.reason,
            &r.format,
            &r.dest,
            &r.backup,
            &r.sha256_before,
            &r.sha256_after,
            &r.verdicts_before,
            &r.verdicts_after,
        ];
        self.csv.write_cells(&cells)
    }

    /// Flushes and syncs the file.
    pub fn finish(self) -> io::Result<()> {
        self.csv.finish()
    }
}
