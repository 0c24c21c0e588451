//! Writing labelled files so that nothing is half-written or lost: a
//! temporary file in the destination folder, fsynced, given the
//! original's permissions, owner (where the OS allows) and times, then
//! moved into place in one step.

use std::fs::{File, FileTimes, Metadata};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Whether `write_file` may replace an existing file (`--in-place`) or must
/// leave one alone (copies under DEST, backups).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    Replace,
    Keep,
}

/// Writes `bytes` to `dest` through a temporary file beside it. With
/// [`Existing::Keep`] an existing `dest` is an `AlreadyExists` error and
/// stays as it was.
pub fn write_file(
    dest: &Path,
    bytes: &[u8],
    like: &Metadata,
    existing: Existing,
) -> io::Result<()> {
    let folder = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder)?;
    let temp = temp_beside(dest);
    let result = fill(&temp, bytes, like).and_then(|()| place(&temp, dest, existing));
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result?;
    sync_folder(folder);
    Ok(())
}

/// `.NAME.labelscan-PID-N.tmp` in `dest`'s folder: on the same file system,
/// so the final rename is atomic, and hidden.
fn temp_beside(dest: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dest.with_file_name(format!(".{name}.labelscan-{}-{n}.tmp", std::process::id()))
}

fn fill(temp: &Path, bytes: &[u8], like: &Metadata) -> io::Result<()> {
    let mut file = File::options().write(true).create_new(true).open(temp)?;
    file.write_all(bytes)?;
    file.set_permissions(like.permissions())?;
    keep_owner(&file, like);
    if let (Ok(accessed), Ok(modified)) = (like.accessed(), like.modified()) {
        // Timestamps are kept where the OS allows; a file system that
        // refuses them still gets the labelled file.
        let _ = file.set_times(
            FileTimes::new()
                .set_accessed(accessed)
                .set_modified(modified),
        );
    }
    file.sync_all()
}

#[cfg(unix)]
fn keep_owner(file: &File, like: &Metadata) {
    use std::os::unix::fs::MetadataExt;
    // Only root may give a file away; for others this keeps their own.
    let _ = std::os::unix::fs::fchown(file, Some(like.uid()), Some(like.gid()));
}

#[cfg(not(unix))]
fn keep_owner(_file: &File, _like: &Metadata) {}

/// Moves the finished temporary file to `dest`. Keeping an existing file
/// uses a hard link, which fails rather than replace (no window between a
/// check and the move); file systems without hard links fall back to a
/// check and a rename.
fn place(temp: &Path, dest: &Path, existing: Existing) -> io::Result<()> {
    match existing {
        Existing::Replace => std::fs::rename(temp, dest),
        Existing::Keep => match std::fs::hard_link(temp, dest) {
            Ok(()) => std::fs::remove_file(temp),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
            Err(_) if std::fs::symlink_metadata(dest).is_ok() => {
                Err(io::Error::from(io::ErrorKind::AlreadyExists))
            }
            Err(_) => std::fs::rename(temp, dest),
        },
    }
}

fn sync_folder(folder: &Path) {
    if let Ok(dir) = File::open(folder) {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_times_and_never_replaces_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        let original = dir.path().join("o.docx");
        std::fs::write(&original, b"old").unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
        File::options()
            .write(true)
            .open(&original)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let like = std::fs::metadata(&original).unwrap();
        let dest = dir.path().join("sub/o.docx");
        write_file(&dest, b"new", &like, Existing::Keep).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"new");
        assert_eq!(std::fs::metadata(&dest).unwrap().modified().unwrap(), old);
        let again = write_file(&dest, b"newer", &like, Existing::Keep).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&dest).unwrap(), b"new");
        write_file(&original, b"labelled", &like, Existing::Replace).unwrap();
        assert_eq!(std::fs::read(&original).unwrap(), b"labelled");
        let left: Vec<_> = std::fs::read_dir(dir.path().join("sub")).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
    }
}
