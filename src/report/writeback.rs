//! A report file that starts writing itself to disk while it is written.
//!
//! The report set fsyncs every file before it commits (a run is an audit
//! record: a crash must leave the old set or the new one). Left to the end,
//! that fsync writes tens of megabytes while the scan waits; asking the
//! kernel to start writeback every few megabytes as the rows are written
//! leaves the final fsync little to do. The request does not wait for the
//! disk (`SYNC_FILE_RANGE_WRITE`) and only changes when the data is written,
//! never what, so a failure to ask is ignored.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use super::written::Trail;

/// How much is written between two writeback requests.
const KICK_EVERY: u64 = 1024 * 1024;

/// A file that asks for writeback of what it holds every [`KICK_EVERY`]
/// bytes, and hashes what it writes for the manifest (see
/// [`super::written`]). Wrap it in a `BufWriter`: it adds no buffering of
/// its own.
pub struct WritebackFile {
    file: File,
    trail: Option<Trail>,
    written: u64,
    kicked: u64,
}

impl WritebackFile {
    pub fn new(file: File) -> WritebackFile {
        WritebackFile {
            file,
            trail: None,
            written: 0,
            kicked: 0,
        }
    }

    /// A report file just created at `path`, hashed as it is written.
    pub fn new_report(path: &Path, file: File) -> io::Result<WritebackFile> {
        let trail = Trail::of_new(path, &file)?;
        Ok(WritebackFile {
            trail: Some(trail),
            ..WritebackFile::new(file)
        })
    }

    /// A report file at `path` opened to append to it, hashed on from
    /// what it holds.
    pub fn appending_report(path: &Path, file: File) -> io::Result<WritebackFile> {
        let trail = Trail::resumed(path, &file)?;
        let held = file.metadata()?.len();
        Ok(WritebackFile {
            trail: Some(trail),
            written: held,
            kicked: held,
            ..WritebackFile::new(file)
        })
    }

    fn kick_if_due(&mut self) {
        if self.written - self.kicked >= KICK_EVERY {
            start_writeback(&self.file, self.kicked, self.written - self.kicked);
            self.kicked = self.written;
        }
    }
}

impl Write for WritebackFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        if let Some(trail) = &mut self.trail {
            trail.wrote(&buf[..n]);
        }
        self.written += n as u64;
        self.kick_if_due();
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: a plain system call on a file descriptor this File owns.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File, _offset: u64, _len: u64) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_reaches_the_file_across_writeback_requests() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let mut out = io::BufWriter::new(WritebackFile::new(File::create(&path).unwrap()));
        let line = [b'x'; 1000];
        for _ in 0..10_000 {
            out.write_all(&line).unwrap();
        }
        let inner = out.into_inner().ok().unwrap();
        assert_eq!(inner.written, 10_000_000);
        assert!(inner.kicked >= 2 * KICK_EVERY, "writeback was requested");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 10_000_000);
    }
}
