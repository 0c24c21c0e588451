//! The finished run `apply` works from: its summary and findings, checked
//! against its manifest, and where each reported path lies on disk.

use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::report::html::{RunFiles, RunSummary};
use crate::report::{self, Manifest};

/// Why a run cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Not a finished, complete run (usage: exit 2).
    #[error("{0}")]
    Unusable(String),
    /// Its files do not match its manifest (exit 4).
    #[error("{0}")]
    Mismatch(String),
}

/// A finished run's summary, with its files checked.
pub struct Run {
    pub dir: PathBuf,
    pub summary: RunSummary,
    roots: Vec<Root>,
}

/// One walked PATH: as the reports write it and where it is.
#[derive(Debug, Clone)]
struct Root {
    display: String,
    resolved: PathBuf,
    /// The folder name under DEST when the run walked several PATHs.
    dest_prefix: Option<String>,
    is_file: bool,
}

/// The fields of a `findings.jsonl` record that `apply` decides on.
#[derive(Debug, Clone, Deserialize)]
pub struct Finding {
    pub path: String,
    pub format: String,
    pub size: u64,
    pub sha256: String,
    pub level: Option<String>,
    #[serde(default)]
    pub label_sources: Vec<SourceLine>,
    pub suggested_level: String,
    pub verdicts: Vec<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub text_chars: usize,
    #[serde(default)]
    pub modified: Option<String>,
    /// The partners its release markings name (canonical names).
    #[serde(default)]
    pub released_to: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SourceLine {
    pub kind: String,
    pub level: Option<String>,
    pub location: String,
}

impl Finding {
    pub fn has(&self, code: &str) -> bool {
        self.verdicts.iter().any(|v| v == code)
    }

    /// Whether a release marking names `partner` (as the policy names it).
    pub fn released_to(&self, partner: &str) -> bool {
        self.released_to.iter().any(|p| p == partner)
    }
}

impl Run {
    /// Opens a finished run: manifest present, `summary.json` and
    /// `findings.jsonl` as the manifest lists them, the run complete.
    pub fn open(dir: &Path) -> Result<Run, RunError> {
        let manifest = match Manifest::read(dir) {
            Ok(Some(m)) => m,
            Ok(None) => {
                return Err(RunError::Unusable(format!(
                    "{}: no {}: not a finished labelscan run",
                    dir.display(),
                    report::MANIFEST_FILE
                )))
            }
            Err(e) => return Err(RunError::Mismatch(format!("{}: {e}", dir.display()))),
        };
        check_inputs(dir, &manifest)?;
        let summary = RunFiles::new(dir)
            .summary()
            .map_err(|e| RunError::Unusable(e.to_string()))?;
        if !summary.complete {
            return Err(RunError::Unusable(format!(
                "{}: run {} is not complete (a PATH could not be walked); scan again before applying labels",
                dir.display(),
                summary.run_id
            )));
        }
        let roots = roots_of(&summary)?;
        Ok(Run {
            dir: dir.to_path_buf(),
            summary,
            roots,
        })
    }

    /// The run's findings, one record at a time.
    pub fn findings(&self) -> io::Result<impl Iterator<Item = io::Result<Finding>>> {
        Ok(RunFiles::new(&self.dir).findings()?.map(|v| {
            v.and_then(|v| {
                serde_json::from_value(v).map_err(|_| {
                    io::Error::other("findings.jsonl: a record without the fields apply needs")
                })
            })
        }))
    }

    /// The PATHs the run walked, resolved.
    pub fn resolved_roots(&self) -> Vec<PathBuf> {
        self.roots.iter().map(|r| r.resolved.clone()).collect()
    }

    /// Where a reported path lies now, and its path below DEST.
    pub fn locate(&self, path: &str) -> Option<(PathBuf, PathBuf)> {
        let root = self
            .roots
            .iter()
            .filter(|r| below(path, r).is_some())
            .max_by_key(|r| r.display.len())?;
        let relative = below(path, root)?;
        let relative_fs = if root.is_file {
            PathBuf::new()
        } else {
            crate::model::job::path_from_text(relative)?
        };
        let fs = root.resolved.join(&relative_fs);
        let mut dest = PathBuf::new();
        if let Some(prefix) = &root.dest_prefix {
            dest.push(prefix);
        }
        if root.is_file {
            dest.push(root.resolved.file_name()?);
        } else {
            dest.push(relative_fs);
        }
        Some((fs, dest))
    }
}

/// The part of `path` below `root`, or `None` when it is not under it.
fn below<'p>(path: &'p str, root: &Root) -> Option<&'p str> {
    if root.is_file {
        return (path == root.display).then_some("");
    }
    let rest = path.strip_prefix(&root.display)?;
    if root.display.ends_with('/') {
        return Some(rest);
    }
    rest.strip_prefix('/')
}

fn roots_of(summary: &RunSummary) -> Result<Vec<Root>, RunError> {
    if summary.paths_walked.len() != summary.paths_resolved.len() {
        return Err(RunError::Unusable(
            "summary.json: the walked and resolved PATHs do not pair up".into(),
        ));
    }
    let several = summary.paths_walked.len() > 1;
    let mut roots = Vec::new();
    for (display, resolved) in summary.paths_walked.iter().zip(&summary.paths_resolved) {
        let resolved = PathBuf::from(resolved);
        let name = resolved
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "root".into());
        let dest_prefix = several.then(|| name.clone());
        if let Some(prefix) = &dest_prefix {
            if roots
                .iter()
                .any(|r: &Root| r.dest_prefix.as_ref() == Some(prefix))
            {
                return Err(RunError::Unusable(format!(
                    "the run walked two PATHs named {prefix}; their files would share paths under DEST"
                )));
            }
        }
        roots.push(Root {
            display: display.clone(),
            is_file: resolved.is_file(),
            resolved,
            dest_prefix,
        });
    }
    Ok(roots)
}

/// `summary.json` and `findings.jsonl` must be the run's own, as its
/// manifest lists them.
fn check_inputs(dir: &Path, manifest: &Manifest) -> Result<(), RunError> {
    if !manifest.files.contains_key(report::JSONL_FILE) {
        return Err(RunError::Unusable(format!(
            "{}: the run wrote no {} (scan with --formats ...,jsonl)",
            dir.display(),
            report::JSONL_FILE
        )));
    }
    let inputs = [report::SUMMARY_FILE, report::JSONL_FILE];
    let bad = report::manifest::mismatched(dir, manifest, &inputs);
    if bad.is_empty() {
        return Ok(());
    }
    Err(RunError::Mismatch(format!(
        "{}: the run's files do not match {}, so no label is applied from them:\n{}",
        dir.display(),
        report::MANIFEST_FILE,
        bad.join("\n")
    )))
}
