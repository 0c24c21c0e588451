//! The SHA-256 of each report file, taken as this process writes it.
//!
//! `manifest.json` lists the hash of every report file. Reading the files
//! back to hash them was the longest step between the scan's end and the
//! commit (30 MB on the 20,000-file benchmark, while every file must wait
//! for it); hashing the bytes as they go to the file costs the same CPU
//! during the scan instead. A file's entry is used only while the file on
//! disk is the one written (same device and inode, same size); anything
//! else is hashed from disk as before. A report set forgets its staging
//! folder's entries when it begins and when it is discarded, so a file of
//! another run at the same name is never taken for the one written.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::model::hash::{hash_into, hex};

/// What was written to one file so far.
#[derive(Clone)]
struct Written {
    dev: u64,
    ino: u64,
    size: u64,
    hasher: Sha256,
}

impl Written {
    fn is_of(&self, metadata: &std::fs::Metadata) -> bool {
        self.dev == metadata.dev() && self.ino == metadata.ino() && self.size == metadata.len()
    }
}

/// Report file path -> what this process wrote there. Entries are taken
/// out by [`take`] when the manifest is made.
static WRITTEN: Mutex<Option<HashMap<PathBuf, Written>>> = Mutex::new(None);

fn with_book<T>(f: impl FnOnce(&mut HashMap<PathBuf, Written>) -> T) -> T {
    let mut book = WRITTEN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    f(book.get_or_insert_with(HashMap::new))
}

/// The running hash of one report file being written: every byte the file
/// accepts goes through [`Trail::wrote`].
pub struct Trail {
    path: PathBuf,
    written: Written,
}

impl Trail {
    /// The trail of a file just created at `path` (empty).
    pub fn of_new(path: &Path, file: &File) -> io::Result<Trail> {
        let metadata = file.metadata()?;
        let trail = Trail {
            path: path.to_path_buf(),
            written: Written {
                dev: metadata.dev(),
                ino: metadata.ino(),
                size: 0,
                hasher: Sha256::new(),
            },
        };
        trail.publish();
        Ok(trail)
    }

    /// The trail of `file`, opened at `path` to append to it (and readable):
    /// goes on from what this process wrote there, or hashes what the file
    /// holds.
    pub fn resumed(path: &Path, file: &File) -> io::Result<Trail> {
        let metadata = file.metadata()?;
        let known = with_book(|book| book.get(path).filter(|w| w.is_of(&metadata)).cloned());
        let written = match known {
            Some(written) => written,
            None => {
                let (hasher, size) = hash_from_start(file)?;
                Written {
                    dev: metadata.dev(),
                    ino: metadata.ino(),
                    size,
                    hasher,
                }
            }
        };
        let trail = Trail {
            path: path.to_path_buf(),
            written,
        };
        trail.publish();
        Ok(trail)
    }

    /// `bytes` were written to the end of the file.
    pub fn wrote(&mut self, bytes: &[u8]) {
        self.written.hasher.update(bytes);
        self.written.size += bytes.len() as u64;
        self.publish();
    }

    fn publish(&self) {
        with_book(|book| match book.get_mut(&self.path) {
            Some(entry) => entry.clone_from(&self.written),
            None => {
                book.insert(self.path.clone(), self.written.clone());
            }
        });
    }
}

/// The size and hex SHA-256 of the file at `path` as this process wrote
/// it, when the file (`metadata`, not following a link) is still exactly
/// that; the entry is removed either way.
pub fn take(path: &Path, metadata: &std::fs::Metadata) -> Option<(u64, String)> {
    let written = with_book(|book| book.remove(path))?;
    written
        .is_of(metadata)
        .then(|| (written.size, hex(&written.hasher.finalize())))
}

/// Forgets every file under `dir` (a staging folder discarded or reused).
pub fn forget_under(dir: &Path) {
    with_book(|book| book.retain(|path, _| !path.starts_with(dir)));
}

/// What `file` holds from its start (opened readable, at offset 0).
fn hash_from_start(file: &File) -> io::Result<(Sha256, u64)> {
    let mut hasher = Sha256::new();
    let size = hash_into(&mut hasher, &mut &*file)?;
    Ok((hasher, size))
}

pub use crate::model::hash::hash_reader;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn written_file(dir: &Path, name: &str, parts: &[&[u8]]) -> (PathBuf, File) {
        let path = dir.join(name);
        let mut file = File::options()
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        let mut trail = Trail::of_new(&path, &file).unwrap();
        for part in parts {
            file.write_all(part).unwrap();
            trail.wrote(part);
        }
        (path, file)
    }

    fn disk_digest(path: &Path) -> (u64, String) {
        hash_reader(&mut File::open(path).unwrap()).unwrap()
    }

    #[test]
    fn the_written_digest_is_the_digest_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = written_file(dir.path(), "a", &[b"hello ", b"world\n"]);
        let metadata = std::fs::symlink_metadata(&path).unwrap();
        assert_eq!(take(&path, &metadata), Some(disk_digest(&path)));
        assert_eq!(take(&path, &metadata), None, "taken once");
    }

    #[test]
    fn a_file_changed_behind_the_trail_is_not_vouched_for() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut file) = written_file(dir.path(), "a", &[b"rows\n"]);
        file.write_all(b"more").unwrap();
        let metadata = std::fs::symlink_metadata(&path).unwrap();
        assert_eq!(take(&path, &metadata), None);
    }

    #[test]
    fn a_resumed_trail_goes_on_from_the_written_bytes_or_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = written_file(dir.path(), "a", &[b"head "]);
        let mut file = File::options().read(true).append(true).open(&path).unwrap();
        let mut trail = Trail::resumed(&path, &file).unwrap();
        file.write_all(b"tail").unwrap();
        trail.wrote(b"tail");
        let metadata = std::fs::symlink_metadata(&path).unwrap();
        assert_eq!(take(&path, &metadata), Some(disk_digest(&path)));

        let other = dir.path().join("b");
        std::fs::write(&other, b"written elsewhere ").unwrap();
        let mut file = File::options()
            .read(true)
            .append(true)
            .open(&other)
            .unwrap();
        let mut trail = Trail::resumed(&other, &file).unwrap();
        file.write_all(b"and appended").unwrap();
        trail.wrote(b"and appended");
        let metadata = std::fs::symlink_metadata(&other).unwrap();
        assert_eq!(take(&other, &metadata), Some(disk_digest(&other)));
    }

    #[test]
    fn forgetting_a_folder_drops_its_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("staging");
        std::fs::create_dir(&inner).unwrap();
        let (kept, _) = written_file(dir.path(), "kept", &[b"x"]);
        let (gone, _) = written_file(&inner, "gone", &[b"y"]);
        forget_under(&inner);
        assert!(take(&gone, &std::fs::symlink_metadata(&gone).unwrap()).is_none());
        assert!(take(&kept, &std::fs::symlink_metadata(&kept).unwrap()).is_some());
    }
}
