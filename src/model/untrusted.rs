//! Opening and reading files that someone else controls: a scanned file
//! (which may be swapped for a FIFO or a device between the walk and the
//! read, or lie about its size like `/proc/self/pagemap`), a FILE given to
//! `explain`, a policy file given as `/dev/zero`.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

/// Opens `path` for reading without blocking on a FIFO and without
/// changing its access time where the kernel allows (`O_NOATIME` needs the
/// file's owner or `CAP_FOWNER`; otherwise it is opened without), and makes
/// sure it is a regular file: a compliance scan must neither hang on a FIFO
/// nor destroy the "last accessed" evidence of the files it reads.
pub fn open_regular(path: &Path) -> io::Result<(File, Metadata)> {
    regular(open_nonblocking(path, 0)?)
}

/// [`open_regular`] for a file the walk found, which never follows a
/// symbolic link: the walk reports links without reading them, and one
/// swapped in after the walk (`ln -sf /etc/shadow report.docx` by whoever
/// can write the share) must not make a scan running as root read its
/// target.
pub fn open_walked(path: &Path) -> io::Result<(File, Metadata)> {
    #[cfg(unix)]
    let no_follow = libc::O_NOFOLLOW;
    #[cfg(not(unix))]
    let no_follow = 0;
    match open_nonblocking(path, no_follow) {
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a symbolic link where the walk found a file",
        )),
        other => regular(other?),
    }
}

fn regular(file: File) -> io::Result<(File, Metadata)> {
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(not_regular());
    }
    Ok((file, metadata))
}

/// The error for a FIFO, device, socket or folder where a file was expected.
pub fn not_regular() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "not a regular file")
}

#[cfg(unix)]
fn open_nonblocking(path: &Path, extra_flags: i32) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let open = |flags: i32| {
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | extra_flags | flags)
            .open(path)
    };
    match open(libc::O_NOATIME) {
        // Not the owner: O_NOATIME is refused, the read is still allowed.
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => open(0),
        other => other,
    }
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path, _extra_flags: i32) -> io::Result<File> {
    OpenOptions::new().read(true).open(path)
}

/// Why a bounded read stopped.
#[derive(Debug)]
pub enum ReadError {
    Io(io::Error),
    /// The file holds more than `limit` bytes.
    TooLarge {
        limit: u64,
    },
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> ReadError {
        ReadError::Io(e)
    }
}

/// Reads at most `limit` bytes of an open file; more is an error, not a
/// silent cut. `expected` (the size the file system reports) only sizes
/// the buffer, so that a lying size costs nothing.
pub fn read_bounded(file: File, expected: u64, limit: u64) -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::with_capacity(expected.min(limit) as usize + 1);
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(bytes)
}

/// Reads a whole small regular file (a policy) of at most `limit` bytes as
/// UTF-8 text.
pub fn read_small_text(path: &Path, limit: u64) -> io::Result<String> {
    let (file, metadata) = open_regular(path)?;
    let bytes = read_bounded(file, metadata.len(), limit).map_err(|e| match e {
        ReadError::Io(e) => e,
        ReadError::TooLarge { limit } => io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {limit} bytes"),
        ),
    })?;
    String::from_utf8(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_walked_file_is_never_read_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("secret");
        std::fs::write(&target, "x").unwrap();
        let link = dir.path().join("report.docx");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = open_walked(&link).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(open_walked(&target).is_ok());
        assert!(open_regular(&link).is_ok(), "a policy may be a link");
    }

    #[test]
    fn refuses_devices_and_fifos_without_blocking() {
        let err = open_regular(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let err = open_regular(&fifo).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn a_bounded_read_reports_more_than_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![b'a'; 100]).unwrap();
        let (file, _) = open_regular(&path).unwrap();
        assert!(matches!(
            read_bounded(file, 0, 99),
            Err(ReadError::TooLarge { limit: 99 })
        ));
        let (file, _) = open_regular(&path).unwrap();
        assert_eq!(read_bounded(file, 0, 100).unwrap().len(), 100);
    }
}
