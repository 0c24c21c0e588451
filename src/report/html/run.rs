//! What the report is rendered from: a finished run's `summary.json`,
//! `findings.jsonl` and `changes.jsonl`, read back from the files (the
//! staged ones during a scan, the committed ones for `labelscan report`),
//! so that both give the same bytes.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::report::{fs_safe, CHANGES_JSONL_FILE, JSONL_FILE, SUMMARY_FILE};

/// Counts keyed by a name (verdict code, level, status ...).
pub type Counts = BTreeMap<String, u64>;

/// `summary.json` as the report reads it: the summary the scan wrote.
/// Unknown keys are ignored and missing ones default, so that an older
/// run's summary still renders.
pub use crate::report::summary::Summary as RunSummary;

/// One line of `changes.jsonl`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ChangeLine {
    pub change: String,
    pub path: String,
    pub level_before: String,
    pub level_after: String,
    pub suggested_before: String,
    pub suggested_after: String,
    pub verdicts_before: Vec<String>,
    pub verdicts_after: Vec<String>,
    pub cause: String,
}

/// A finished run's report files in one folder.
pub struct RunFiles {
    dir: PathBuf,
    /// A scan's staging folder, which may hold report.html's rows rendered
    /// during the scan; a finished run's folder is never trusted to.
    staged: bool,
}

impl RunFiles {
    /// The files of a finished run in `dir`.
    pub fn new(dir: &Path) -> RunFiles {
        RunFiles {
            dir: dir.to_path_buf(),
            staged: false,
        }
    }

    /// The files a scan staged in `dir`, its own fresh staging folder.
    pub fn staged(dir: &Path) -> RunFiles {
        RunFiles {
            dir: dir.to_path_buf(),
            staged: true,
        }
    }

    /// The staged report.html into which the scan wrote the rows, when it did.
    pub fn rows_ahead(&self) -> Option<PathBuf> {
        self.staged
            .then(|| super::ahead::rows_ahead_in(&self.dir))
            .flatten()
    }

    pub fn summary(&self) -> io::Result<RunSummary> {
        let path = self.dir.join(SUMMARY_FILE);
        let text = io::read_to_string(fs_safe::open_read(&path)?)?;
        // The summary holds no document content, but keep the message short.
        serde_json::from_str(&text)
            .map_err(|e| io::Error::other(format!("{}: not a run summary ({e})", path.display())))
    }

    /// Each record of `findings.jsonl`, read one line at a time.
    pub fn findings(&self) -> io::Result<impl Iterator<Item = io::Result<Value>>> {
        json_lines(&self.dir.join(JSONL_FILE))
    }

    /// `findings.jsonl`, opened for reading.
    pub fn findings_file(&self) -> io::Result<std::fs::File> {
        fs_safe::open_read(&self.dir.join(JSONL_FILE))
    }

    /// The run's changes, or `None` when it kept no state store.
    pub fn changes(&self) -> io::Result<Option<impl Iterator<Item = io::Result<ChangeLine>>>> {
        let path = self.dir.join(CHANGES_JSONL_FILE);
        if std::fs::symlink_metadata(&path).is_err() {
            return Ok(None);
        }
        let lines = json_lines(&path)?.map(|line| {
            line.and_then(|v| {
                serde_json::from_value(v)
                    .map_err(|_| io::Error::other("changes.jsonl: a line that is no change"))
            })
        });
        Ok(Some(lines))
    }
}

/// The JSON values of a JSON Lines file. A bad line's error names its
/// number only: its text comes from documents.
fn json_lines(path: &Path) -> io::Result<impl Iterator<Item = io::Result<Value>>> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let reader = BufReader::with_capacity(256 * 1024, fs_safe::open_read(path)?);
    Ok(reader
        .lines()
        .enumerate()
        .filter(|(_, line)| !matches!(line, Ok(l) if l.is_empty()))
        .map(move |(n, line)| {
            serde_json::from_str(&line?)
                .map_err(|_| io::Error::other(format!("{name} line {}: not a JSON record", n + 1)))
        }))
}
