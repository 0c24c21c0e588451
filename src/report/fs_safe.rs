//! File operations inside the report folder that never follow a symbolic
//! link planted there: a scan run as root must not overwrite
//! `/etc/victim` because someone linked `out/summary.json` to it. Files are
//! created with `O_CREAT | O_EXCL | O_NOFOLLOW` (a link, or any file, at the
//! name is an error) and opened with `O_NOFOLLOW`; renames and removals act
//! on the link itself, never on its target.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Mode of report files; the umask still applies. The staging folder they
/// are written in is private (0700) until the commit.
const FILE_MODE: u32 = 0o644;
const PRIVATE_DIR_MODE: u32 = 0o700;

/// Creates a new file for writing; fails if anything, link or not, exists at `path`.
pub fn create_new(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    no_follow(&mut options, FILE_MODE);
    options.open(path).map_err(|e| named(path, e))
}

/// Opens an existing file to write at its end (and to read what it
/// holds), refusing a symbolic link.
pub fn open_append(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).append(true);
    no_follow(&mut options, FILE_MODE);
    options.open(path).map_err(|e| named(path, e))
}

/// Opens an existing file for reading, refusing a symbolic link.
pub fn open_read(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    no_follow(&mut options, FILE_MODE);
    options.open(path).map_err(|e| named(path, e))
}

/// Opens (creating if need be) a file for reading and writing, refusing a
/// symbolic link: the lock file, which outlives runs.
pub fn open_or_create(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true);
    no_follow(&mut options, FILE_MODE);
    options.open(path).map_err(|e| named(path, e))
}

/// The regular file at `path`, opened for reading without following a link
/// and without blocking; `None` for anything else or nothing. Held across a
/// rename over `path` or its removal, it defers freeing the file's blocks
/// (which can take milliseconds per file) to when it is dropped.
pub fn hold(path: &Path) -> Option<File> {
    let metadata = std::fs::symlink_metadata(path).ok()?;
    if !metadata.is_file() {
        return None;
    }
    let mut options = OpenOptions::new();
    options.read(true);
    no_follow(&mut options, FILE_MODE);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK,
    );
    options.open(path).ok()
}

/// Drops the regular file at `path` from the page cache, if it is one. Its
/// contents stay on disk untouched; only clean cached pages go.
pub fn uncache(path: &Path) {
    let Some(file) = hold(path) else {
        return;
    };
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: a plain system call on a descriptor `file` owns.
        unsafe {
            libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
}

/// Creates a folder only this user can enter; fails if anything exists at `path`.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, PRIVATE_DIR_MODE);
    #[cfg(not(unix))]
    let _ = PRIVATE_DIR_MODE;
    builder.create(path).map_err(|e| named(path, e))
}

/// Removes whatever is at `path` (a link itself, a file, or a folder with
/// its contents, never following links); nothing there is fine.
pub fn remove_any(path: &Path) -> io::Result<()> {
    let result = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => Err(e),
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
    };
    result.map_err(|e| named(path, e))
}

/// Makes the entries of a folder (created, renamed, removed files) durable.
pub fn sync_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(path)
            .and_then(|dir| dir.sync_all())
            .map_err(|e| named(path, e))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Whether a name is a plain file name in the folder (no separator, not `.`
/// or `..`, not hidden): names read from a manifest or journal are checked,
/// so that a planted one cannot reach outside the report folder or its
/// bookkeeping files.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
        && Path::new(name).file_name().is_some_and(|n| n == name)
}

#[cfg(unix)]
fn no_follow(options: &mut OpenOptions, mode: u32) {
    use std::os::unix::fs::OpenOptionsExt;
    options
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .mode(mode);
}

#[cfg(not(unix))]
fn no_follow(_options: &mut OpenOptions, _mode: u32) {}

/// The error with the path it concerns; a refused link says so in words
/// (the OS says "Too many levels of symbolic links").
fn named(path: &Path, e: io::Error) -> io::Error {
    #[cfg(unix)]
    if e.raw_os_error() == Some(libc::ELOOP) {
        return io::Error::new(
            e.kind(),
            format!(
                "{} is a symbolic link; labelscan does not write or read reports through links",
                path.display()
            ),
        );
    }
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::is_plain_name;

    #[test]
    fn plain_names_stay_in_the_folder() {
        assert!(is_plain_name("findings.csv"));
        assert!(is_plain_name("report.html"));
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "/etc/passwd",
            ".labelscan.lock",
            "a\\b",
        ] {
            assert!(!is_plain_name(bad), "{bad}");
        }
    }
}
