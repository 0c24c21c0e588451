//! The lock on a report folder: one labelscan at a time writes, repairs or
//! verifies a report set, so two scans into one `--out` can no longer
//! interleave their rows. An advisory `flock` on `DIR/.labelscan.lock`:
//! the kernel releases it when the holder dies, even by SIGKILL, so a
//! killed scan never leaves a stale lock behind. The holder's pid is written
//! into the file so that the refusal can name it.

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::Path;

use super::fs_safe;

pub const LOCK_FILE: &str = ".labelscan.lock";

/// Held for as long as it lives; dropping it releases the lock.
#[derive(Debug)]
pub struct DirLock {
    _file: Option<File>,
    /// Taken without write access: the holder may look, not repair.
    pub read_only: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{dir} is in use by another labelscan{}; wait for it to finish or use another --out", holder_text(*.holder))]
    Busy { dir: String, holder: Option<u32> },
    #[error(transparent)]
    Io(#[from] io::Error),
}

fn holder_text(holder: Option<u32>) -> String {
    holder.map(|p| format!(" (pid {p})")).unwrap_or_default()
}

impl DirLock {
    /// Takes the exclusive lock on `dir`, or refuses at once if another
    /// process holds it: a scan waiting hours behind another one is worse
    /// than a clear refusal a scheduler can retry.
    pub fn exclusive(dir: &Path) -> Result<DirLock, LockError> {
        let mut file = fs_safe::open_or_create(&dir.join(LOCK_FILE))?;
        try_lock(&file, dir, true)?;
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "{}", std::process::id())?;
        Ok(DirLock {
            _file: Some(file),
            read_only: false,
        })
    }

    /// For a reader without write access to `dir` (an auditor verifying a
    /// read-only copy): a shared lock on an existing lock file, or no lock
    /// at all when there is none (then no labelscan has written here since
    /// locks exist, and none can start without write access either).
    pub fn shared_read_only(dir: &Path) -> Result<DirLock, LockError> {
        let path = dir.join(LOCK_FILE);
        let file = match fs_safe::open_read(&path) {
            Ok(file) => {
                try_lock(&file, dir, false)?;
                Some(file)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        Ok(DirLock {
            _file: file,
            read_only: true,
        })
    }
}

#[cfg(unix)]
fn try_lock(file: &File, dir: &Path, exclusive: bool) -> Result<(), LockError> {
    use std::os::unix::io::AsRawFd;
    let kind = if exclusive {
        libc::LOCK_EX
    } else {
        libc::LOCK_SH
    };
    loop {
        // SAFETY: flock on a descriptor this function borrows; no memory is passed.
        let rc = unsafe { libc::flock(file.as_raw_fd(), kind | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EWOULDBLOCK) => {
                return Err(LockError::Busy {
                    dir: dir.display().to_string(),
                    holder: holder_pid(file),
                })
            }
            _ => return Err(e.into()),
        }
    }
}

#[cfg(not(unix))]
fn try_lock(_file: &File, _dir: &Path, _exclusive: bool) -> Result<(), LockError> {
    Ok(())
}

/// The pid the holder wrote into the lock file, if readable yet.
fn holder_pid(mut file: &File) -> Option<u32> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}
