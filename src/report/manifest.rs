//! `manifest.json`: the size and SHA-256 of every report file of a run. It
//! defines the report set: what it lists is the run's record, and files of
//! an earlier run that it does not list are removed when the set is committed.
//! `labelscan verify DIR` checks a folder against it.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::Path;

use super::fs_safe;
use super::written;
use serde::{Deserialize, Serialize};

pub const MANIFEST_FILE: &str = "manifest.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub tool: String,
    pub version: String,
    /// The run's id, taken from `summary.json` when it carries one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Report file name -> its size and hash.
    pub files: BTreeMap<String, FileDigest>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    pub size: u64,
    pub sha256: String,
}

impl Manifest {
    /// The manifest of the files staged in `folder`, each made durable
    /// (fsync) on the way: the hash is taken of exactly what will be committed.
    pub fn of_staged(folder: &Path) -> io::Result<Manifest> {
        let mut staged = Vec::new();
        for entry in std::fs::read_dir(folder)? {
            let entry = entry?;
            let name = entry.file_name().into_string().map_err(|n| {
                io::Error::other(format!(
                    "{}: a report file name that is not UTF-8",
                    n.display()
                ))
            })?;
            if !entry.file_type()?.is_file() || !fs_safe::is_plain_name(&name) {
                return Err(io::Error::other(format!(
                    "{}: not a report file",
                    entry.path().display()
                )));
            }
            staged.push((name, entry.path()));
        }
        // Hashing and fsync of the report files run side by side: the run's
        // last step is otherwise as long as all of them one after another.
        let digests: Vec<io::Result<FileDigest>> = std::thread::scope(|scope| {
            let handles: Vec<_> = staged
                .iter()
                .map(|(_, path)| {
                    scope.spawn(move || {
                        let (digest, file) = digest_staged(path)?;
                        file.sync_all()?;
                        Ok(digest)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(io::Error::other("hashing a report failed")))
                })
                .collect()
        });
        let mut files = BTreeMap::new();
        for ((name, _), digest) in staged.into_iter().zip(digests) {
            files.insert(name, digest?);
        }
        Ok(Manifest {
            tool: "labelscan".into(),
            version: crate::VERSION.into(),
            run_id: run_id_in(folder),
            files,
        })
    }

    /// Writes the manifest as a new file and makes it durable.
    pub fn write_new(&self, path: &Path) -> io::Result<()> {
        self.write_new_unsynced(path)?.sync_all()
    }

    /// Writes the manifest as a new file, not yet durable: the caller
    /// syncs the file it returns.
    pub fn write_new_unsynced(&self, path: &Path) -> io::Result<std::fs::File> {
        let mut file = fs_safe::create_new(path)?;
        let mut text = serde_json::to_vec_pretty(self)?;
        text.push(b'\n');
        file.write_all(&text)?;
        Ok(file)
    }

    /// The manifest in `dir`: `None` when there is none.
    pub fn read(dir: &Path) -> Result<Option<Manifest>, ManifestError> {
        let path = dir.join(MANIFEST_FILE);
        let mut text = String::new();
        match fs_safe::open_read(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ManifestError::Unreadable(e)),
            Ok(mut file) => file
                .read_to_string(&mut text)
                .map_err(ManifestError::Unreadable)?,
        };
        let manifest: Manifest = serde_json::from_str(&text)
            .map_err(|e| ManifestError::Invalid(format!("{}: {e}", path.display())))?;
        if let Some(bad) = manifest.files.keys().find(|n| !fs_safe::is_plain_name(n)) {
            return Err(ManifestError::Invalid(format!(
                "{}: lists \"{bad}\", which is not a file name in the folder",
                path.display()
            )));
        }
        Ok(Some(manifest))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{0}")]
    Unreadable(io::Error),
    #[error("{0}")]
    Invalid(String),
}

/// The `run_id` field of a staged `summary.json`, if it has one. Read as
/// plain JSON so that the manifest needs no change when the field arrives.
fn run_id_in(folder: &Path) -> Option<String> {
    let text = std::fs::read_to_string(folder.join(super::SUMMARY_FILE)).ok()?;
    let summary: serde_json::Value = serde_json::from_str(&text).ok()?;
    summary.get("run_id")?.as_str().map(str::to_string)
}

/// Size and SHA-256 of a staged file, as it was hashed while this process
/// wrote it or else read from disk, and the open file.
fn digest_staged(path: &Path) -> io::Result<(FileDigest, std::fs::File)> {
    let file = fs_safe::open_read(path)?;
    match written::take(path, &file.metadata()?) {
        Some((size, sha256)) => Ok((FileDigest { size, sha256 }, file)),
        None => digest(path),
    }
}

/// Size and SHA-256 of a file (never through a link), and the open file.
pub fn digest(path: &Path) -> io::Result<(FileDigest, std::fs::File)> {
    let mut file = fs_safe::open_read(path)?;
    let (size, sha256) = written::hash_reader(&mut file)?;
    Ok((FileDigest { size, sha256 }, file))
}

/// What `verify` found for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileCheck {
    Matches(String),
    Missing(String),
    /// Size or hash differ from the manifest's.
    Differs {
        name: String,
        detail: String,
    },
    /// Could not be read (a link, a folder, no permission).
    Unreadable {
        name: String,
        detail: String,
    },
    /// A report file the manifest does not list: left from another run.
    Extra(String),
}

impl FileCheck {
    pub fn is_ok(&self) -> bool {
        matches!(self, FileCheck::Matches(_))
    }
}

impl std::fmt::Display for FileCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileCheck::Matches(name) => write!(f, "ok        {name}"),
            FileCheck::Missing(name) => write!(f, "MISSING   {name}"),
            FileCheck::Differs { name, detail } => write!(f, "MISMATCH  {name}: {detail}"),
            FileCheck::Unreadable { name, detail } => write!(f, "UNREADABLE {name}: {detail}"),
            FileCheck::Extra(name) => {
                write!(
                    f,
                    "EXTRA     {name}: a report file manifest.json does not list"
                )
            }
        }
    }
}

/// Checks every file the manifest lists, then looks for report files
/// (by the names labelscan writes) that it does not list.
pub fn check(dir: &Path, manifest: &Manifest, report_names: &[&str]) -> Vec<FileCheck> {
    let mut checks: Vec<FileCheck> = manifest
        .files
        .iter()
        .map(|(name, expected)| check_file(dir, name, expected))
        .collect();
    for name in report_names {
        if !manifest.files.contains_key(*name) && std::fs::symlink_metadata(dir.join(name)).is_ok()
        {
            checks.push(FileCheck::Extra(name.to_string()));
        }
    }
    checks
}

/// The files among `names` that the manifest lists and that no longer
/// match it, as `verify` prints them: what a step reading a finished run
/// (`report`, `apply`) must refuse. Only those files are read.
pub fn mismatched(dir: &Path, manifest: &Manifest, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .filter_map(|name| Some((*name, manifest.files.get(*name)?)))
        .map(|(name, expected)| check_file(dir, name, expected))
        .filter(|c| !c.is_ok())
        .map(|c| c.to_string())
        .collect()
}

fn check_file(dir: &Path, name: &str, expected: &FileDigest) -> FileCheck {
    let name = name.to_string();
    match digest(&dir.join(&name)) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => FileCheck::Missing(name),
        Err(e) => FileCheck::Unreadable {
            name,
            detail: e.to_string(),
        },
        Ok((found, _)) if found.size != expected.size => FileCheck::Differs {
            name,
            detail: format!("{} bytes, manifest.json says {}", found.size, expected.size),
        },
        Ok((found, _)) if found.sha256 != expected.sha256 => FileCheck::Differs {
            name,
            detail: format!(
                "SHA-256 {}, manifest.json says {}",
                found.sha256, expected.sha256
            ),
        },
        Ok(_) => FileCheck::Matches(name),
    }
}
