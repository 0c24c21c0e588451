//! A run's report set, written so that the report folder holds either the
//! previous complete set or the new complete one, whenever a run is
//! interrupted (Ctrl-C, SIGKILL, power loss, full disk).
//!
//! 1. Under the folder's lock ([`DirLock`]), sinks write into a fresh,
//!    private staging folder `DIR/.labelscan-staging/`.
//! 2. When the run has finished, each staged file is hashed and fsynced and
//!    `manifest.json` is staged beside them.
//! 3. The commit point: a journal listing the files to move in and the
//!    files of the previous set to remove is written to a temporary name,
//!    fsynced and renamed to `DIR/.labelscan-commit` (a rename is atomic).
//! 4. Roll forward: remove the previous set's files that the new set lacks,
//!    rename each staged file over its final name (`manifest.json` last),
//!    fsync DIR, remove the journal and the staging folder.
//!
//! Moving several files cannot be one atomic step without writing outside
//! DIR (swapping DIR with a sibling) or turning DIR or its files into
//! symbolic links, so the journal makes step 4 repeatable instead: every
//! labelscan command that takes the lock first calls [`recover`], which
//! finishes a commit whose journal exists and discards staging whose
//! journal does not. A run killed before step 3 leaves the previous set; one
//! killed after it is completed by the next `scan` or `verify`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::fs_safe;
use super::lock::{DirLock, LockError};
use super::manifest::{Manifest, MANIFEST_FILE};

/// Where a run's reports are written until the commit.
pub const STAGING_DIR: &str = ".labelscan-staging";
/// The commit journal; its presence means "roll this commit forward".
pub const JOURNAL_FILE: &str = ".labelscan-commit";
/// The journal while it is written, before the rename that commits.
const JOURNAL_DRAFT: &str = ".labelscan-commit.new";

/// The reports of one run, staged in DIR until [`ReportSet::commit`].
/// Dropped without a commit (an error, a panic), its staging is removed
/// and DIR keeps the previous set.
#[derive(Debug)]
pub struct ReportSet {
    dir: PathBuf,
    staging: PathBuf,
    private: bool,
    committed: bool,
    /// Dropping the previous set's files from the page cache.
    uncaching: Option<std::thread::JoinHandle<()>>,
    _lock: DirLock,
}

/// What the commit journal says to do.
#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    /// Files of the previous set the new one lacks.
    remove: Vec<String>,
    /// Staged files to rename into DIR, in this order.
    move_in: Vec<String>,
}

/// What [`recover`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// Nothing was pending.
    Clean,
    /// An interrupted commit was rolled forward: the new set is in place.
    Completed,
    /// Reports of a run that never committed were discarded.
    Discarded,
    /// A commit is pending but the folder is read-only to us.
    Pending,
}

#[derive(Debug, thiserror::Error)]
pub enum SetError {
    #[error(transparent)]
    Busy(LockError),
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl From<LockError> for SetError {
    fn from(e: LockError) -> SetError {
        match e {
            LockError::Io(e) => SetError::Io(e),
            busy => SetError::Busy(busy),
        }
    }
}

impl ReportSet {
    /// Creates DIR if need be, takes its lock, finishes or discards what an
    /// interrupted run left, and creates a fresh staging folder. With
    /// `private`, report files are committed readable by the owner only
    /// (they carry unmasked values).
    pub fn begin(dir: &Path, private: bool) -> Result<ReportSet, SetError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
        let lock = DirLock::exclusive(dir)?;
        recover(dir, &lock)?;
        let staging = dir.join(STAGING_DIR);
        fs_safe::create_private_dir(&staging)?;
        super::written::forget_under(&staging);
        Ok(ReportSet {
            dir: dir.to_path_buf(),
            staging,
            private,
            committed: false,
            uncaching: uncache_previous(dir),
            _lock: lock,
        })
    }

    /// The staging folder, which a scan of a folder containing DIR must skip.
    pub fn staging_dir(&self) -> &Path {
        &self.staging
    }

    /// Where a sink writes the report file `name` (a plain file name).
    pub fn path_of(&self, name: &str) -> PathBuf {
        debug_assert!(fs_safe::is_plain_name(name), "{name}");
        self.staging.join(name)
    }

    /// Makes the staged files the report set in DIR (steps 2-4 above);
    /// the sinks must have finished. Returns the manifest written.
    pub fn commit(self) -> io::Result<Manifest> {
        self.commit_then(|| ()).map(|(manifest, ())| manifest)
    }

    /// [`ReportSet::commit`], calling `after` once the new set is in place
    /// (every file renamed into DIR), side by side with the rest of the
    /// commit: syncing DIR, removing the journal and the staging folder,
    /// and freeing the previous set's files. Returns the manifest and what
    /// `after` returned.
    pub fn commit_then<T: Send>(
        mut self,
        after: impl FnOnce() -> T + Send,
    ) -> io::Result<(Manifest, T)> {
        if let Some(uncaching) = self.uncaching.take() {
            let _ = uncaching.join();
        }
        let manifest = Manifest::of_staged(&self.staging)?;
        if self.private {
            make_owner_only(&self.staging, &manifest)?;
        }
        let journal = Journal {
            remove: files_to_remove(&self.dir, &manifest),
            move_in: manifest
                .files
                .keys()
                .cloned()
                .chain([MANIFEST_FILE.to_string()])
                .collect(),
        };
        // The manifest, the staging folder's entries and the journal must
        // all be durable before the journal takes its name: their syncs
        // run side by side rather than one after another.
        let manifest_file = manifest.write_new_unsynced(&self.staging.join(MANIFEST_FILE))?;
        let (draft, draft_file) = write_journal_draft_unsynced(&self.dir, &journal)?;
        let staging = &self.staging;
        std::thread::scope(|scope| {
            let syncs = [
                scope.spawn(|| manifest_file.sync_all()),
                scope.spawn(|| fs_safe::sync_dir(staging)),
            ];
            let draft_synced = draft_file.sync_all();
            syncs
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(io::Error::other("sync failed")))
                })
                .chain([draft_synced])
                .collect::<io::Result<Vec<()>>>()
        })?;
        // The rename below is the commit point. From here on the staged
        // files must stay whatever happens: once the journal exists, a
        // roll forward needs them (the previous set's extra files go).
        self.committed = true;
        std::fs::rename(&draft, self.dir.join(JOURNAL_FILE))?;
        fs_safe::sync_dir(&self.dir)?;
        let replaced = move_in(&self.dir, &journal)?;
        let dir = &self.dir;
        std::thread::scope(|scope| {
            let finishing = scope.spawn(move || {
                let finished = finish_roll_forward(dir);
                // The previous set's files are freed here, off the caller's path.
                drop(replaced);
                finished
            });
            let after = after();
            let finished = finishing
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("finishing the commit failed")));
            finished.map(|()| (manifest, after))
        })
    }
}

impl Drop for ReportSet {
    fn drop(&mut self) {
        super::written::forget_under(&self.staging);
        if !self.committed {
            let _ = fs_safe::remove_any(&self.staging);
            let _ = fs_safe::remove_any(&self.dir.join(JOURNAL_DRAFT));
        }
    }
}

/// Finishes or discards what an interrupted run left in `dir`; the caller
/// holds `lock` on it.
pub fn recover(dir: &Path, lock: &DirLock) -> io::Result<Recovery> {
    let journal_path = dir.join(JOURNAL_FILE);
    let staging = dir.join(STAGING_DIR);
    let journal_exists = std::fs::symlink_metadata(&journal_path).is_ok();
    let staging_exists = std::fs::symlink_metadata(&staging).is_ok();
    let draft_exists = std::fs::symlink_metadata(dir.join(JOURNAL_DRAFT)).is_ok();
    if lock.read_only {
        // Staging without a journal is not part of the set: the previous
        // set is intact. A journal means the set is mid-commit.
        return Ok(if journal_exists {
            Recovery::Pending
        } else {
            Recovery::Clean
        });
    }
    if journal_exists {
        let journal = read_journal(&journal_path)?;
        roll_forward(dir, &journal)?;
        return Ok(Recovery::Completed);
    }
    fs_safe::remove_any(&dir.join(JOURNAL_DRAFT))?;
    fs_safe::remove_any(&staging)?;
    Ok(if staging_exists || draft_exists {
        Recovery::Discarded
    } else {
        Recovery::Clean
    })
}

/// Drops the previous set's files from the page cache while the run goes
/// on, on a thread of its own. The files stay as they are until the
/// commit replaces them; but freeing their cached pages there (8,000 pages
/// for a 20,000-file set, about 10 ms) would hold up the end of the run,
/// when the machine has a core to spare at the start. `None` when there is
/// no previous set.
fn uncache_previous(dir: &Path) -> Option<std::thread::JoinHandle<()>> {
    let previous = Manifest::read(dir).ok()??;
    let paths: Vec<PathBuf> = previous.files.keys().map(|name| dir.join(name)).collect();
    std::thread::Builder::new()
        .name("uncache".into())
        .spawn(move || paths.iter().for_each(|path| fs_safe::uncache(path)))
        .ok()
}

/// The previous set's files (by its manifest) that the new set does not
/// write: they would otherwise linger beside it as if part of it.
fn files_to_remove(dir: &Path, new: &Manifest) -> Vec<String> {
    let Ok(Some(old)) = Manifest::read(dir) else {
        return Vec::new();
    };
    old.files
        .into_keys()
        .filter(|name| !new.files.contains_key(name))
        .collect()
}

fn make_owner_only(staging: &Path, manifest: &Manifest) -> io::Result<()> {
    #[cfg(unix)]
    for name in manifest.files.keys() {
        use std::os::unix::fs::PermissionsExt;
        // The staging folder is ours and private, so these are our files.
        std::fs::set_permissions(staging.join(name), std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = (staging, manifest);
    Ok(())
}

/// Step 3, first half: the journal, durable under a draft name, so that it
/// appears under its own name only complete (in one rename).
#[cfg(test)]
fn write_journal_draft(dir: &Path, journal: &Journal) -> io::Result<PathBuf> {
    let (draft, file) = write_journal_draft_unsynced(dir, journal)?;
    file.sync_all()?;
    Ok(draft)
}

/// The journal under its draft name, not yet durable: the caller syncs
/// the file returned with it.
fn write_journal_draft_unsynced(
    dir: &Path,
    journal: &Journal,
) -> io::Result<(PathBuf, std::fs::File)> {
    let draft = dir.join(JOURNAL_DRAFT);
    fs_safe::remove_any(&draft)?;
    let mut file = fs_safe::create_new(&draft)?;
    file.write_all(&serde_json::to_vec(journal)?)?;
    Ok((draft, file))
}

fn read_journal(path: &Path) -> io::Result<Journal> {
    let text = std::io::read_to_string(fs_safe::open_read(path)?)?;
    let journal: Journal = serde_json::from_str(&text).map_err(|e| {
        io::Error::other(format!(
            "{}: an unreadable commit journal ({e}); remove it to keep the previous report set",
            path.display()
        ))
    })?;
    let names = journal.remove.iter().chain(&journal.move_in);
    if let Some(bad) = names.into_iter().find(|n| !fs_safe::is_plain_name(n)) {
        return Err(io::Error::other(format!(
            "{}: names \"{bad}\", which is not a report file name",
            path.display()
        )));
    }
    Ok(journal)
}

/// Step 4, repeatable: a file already moved is no longer staged and is
/// skipped, so a roll forward interrupted itself is simply run again.
fn roll_forward(dir: &Path, journal: &Journal) -> io::Result<()> {
    let replaced = move_in(dir, journal)?;
    finish_roll_forward(dir)?;
    drop(replaced);
    Ok(())
}

/// Step 4, first half: removes the previous set's extra files and renames
/// the staged files into DIR. Returns the files replaced or removed, still
/// open: freeing them is left to whoever drops them.
fn move_in(dir: &Path, journal: &Journal) -> io::Result<Vec<std::fs::File>> {
    let staging = dir.join(STAGING_DIR);
    let mut replaced = Vec::new();
    for name in &journal.remove {
        replaced.extend(fs_safe::hold(&dir.join(name)));
        remove_report_file(&dir.join(name))?;
    }
    for name in &journal.move_in {
        let staged = staging.join(name);
        match std::fs::symlink_metadata(&staged) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
            // rename replaces a link planted at the final name; it never
            // writes through it.
            Ok(_) => {
                replaced.extend(fs_safe::hold(&dir.join(name)));
                std::fs::rename(&staged, dir.join(name)).map_err(|e| {
                    io::Error::new(e.kind(), format!("{}: {e}", dir.join(name).display()))
                })?
            }
        }
    }
    Ok(replaced)
}

/// Step 4, second half: once the renames are durable, the journal and the
/// staging folder go.
fn finish_roll_forward(dir: &Path) -> io::Result<()> {
    fs_safe::sync_dir(dir)?;
    std::fs::remove_file(dir.join(JOURNAL_FILE))?;
    fs_safe::remove_any(&dir.join(STAGING_DIR))?;
    fs_safe::sync_dir(dir)
}

/// Removes a file or a link; a folder by that name is not a report and stays.
fn remove_report_file(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => std::fs::remove_file(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged_set(dir: &Path, files: &[(&str, &str)]) -> ReportSet {
        let set = ReportSet::begin(dir, false).unwrap();
        for (name, text) in files {
            std::fs::write(set.path_of(name), text).unwrap();
        }
        set
    }

    /// Ends a set as a killed process would: the lock is released, the
    /// staging folder stays.
    fn killed(mut set: ReportSet) {
        set.committed = true;
    }

    fn read(dir: &Path, name: &str) -> String {
        std::fs::read_to_string(dir.join(name)).unwrap()
    }

    #[test]
    fn a_commit_replaces_the_set_and_drops_files_the_new_set_lacks() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        staged_set(d, &[("a.csv", "old a\n"), ("b.csv", "old b\n")])
            .commit()
            .unwrap();
        let manifest = staged_set(d, &[("a.csv", "new a\n")]).commit().unwrap();
        assert_eq!(read(d, "a.csv"), "new a\n");
        assert!(!d.join("b.csv").exists(), "b.csv is not in the new set");
        assert_eq!(manifest.files.len(), 1);
        assert_eq!(Manifest::read(d).unwrap(), Some(manifest));
        assert!(!d.join(STAGING_DIR).exists() && !d.join(JOURNAL_FILE).exists());
    }

    #[test]
    fn an_uncommitted_set_leaves_the_previous_one() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        staged_set(d, &[("a.csv", "old\n")]).commit().unwrap();
        killed(staged_set(d, &[("a.csv", "half")]));
        assert!(d.join(STAGING_DIR).exists());
        let lock = DirLock::exclusive(d).unwrap();
        assert_eq!(recover(d, &lock).unwrap(), Recovery::Discarded);
        assert_eq!(read(d, "a.csv"), "old\n");
        assert!(!d.join(STAGING_DIR).exists());
    }

    #[test]
    fn an_interrupted_commit_is_rolled_forward() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        staged_set(d, &[("a.csv", "old a\n"), ("b.csv", "old b\n")])
            .commit()
            .unwrap();
        let set = staged_set(d, &[("a.csv", "new a\n"), ("c.csv", "new c\n")]);
        // Steps 2 and 3 by hand, then half of step 4: a.csv moved, c.csv not.
        let manifest = Manifest::of_staged(&set.staging).unwrap();
        manifest
            .write_new(&set.staging.join(MANIFEST_FILE))
            .unwrap();
        let journal = Journal {
            remove: files_to_remove(d, &manifest),
            move_in: vec!["a.csv".into(), "c.csv".into(), MANIFEST_FILE.into()],
        };
        let draft = write_journal_draft(d, &journal).unwrap();
        std::fs::rename(draft, d.join(JOURNAL_FILE)).unwrap();
        std::fs::rename(set.staging.join("a.csv"), d.join("a.csv")).unwrap();
        killed(set);
        let lock = DirLock::exclusive(d).unwrap();
        assert_eq!(recover(d, &lock).unwrap(), Recovery::Completed);
        assert_eq!(read(d, "a.csv"), "new a\n");
        assert_eq!(read(d, "c.csv"), "new c\n");
        assert!(!d.join("b.csv").exists());
        assert_eq!(Manifest::read(d).unwrap(), Some(manifest));
        assert!(!d.join(JOURNAL_FILE).exists() && !d.join(STAGING_DIR).exists());
    }

    #[test]
    fn a_second_writer_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = ReportSet::begin(dir.path(), false).unwrap();
        let second = ReportSet::begin(dir.path(), false).unwrap_err();
        let text = second.to_string();
        assert!(matches!(second, SetError::Busy(_)), "{text}");
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
    }
}
