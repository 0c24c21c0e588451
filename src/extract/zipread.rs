//! Bounded reading of zip containers (OOXML, ODF, plain archives).
//!
//! The `zip` crate bounds each entry's output by its declared size but has no
//! ratio, entry-count or total-size checks; those are enforced here against
//! the file's [`Budget`] before and while inflating.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;

use zip::result::ZipError;
use zip::ZipArchive;

use super::inflate::{inflate_into, Framing, InflateError};
use super::{ExtractError, ExtractResult};
use crate::model::budget::Budget;
use crate::model::job::escape_bytes;

/// What the central directory says about one entry.
#[derive(Debug, Clone)]
pub struct EntryInfo {
    pub name: String,
    pub size: u64,
    pub compressed: u64,
    pub is_dir: bool,
    pub encrypted: bool,
    /// The entry's bytes lie inside another entry's (a central directory
    /// that lists the same data twice, or overlapping entries: the shape of
    /// zip bombs and row bombs). Such an entry is never inflated.
    pub overlaps: bool,
    /// The CRC-32 the central directory declares for the data.
    pub crc32: u32,
}

/// An opened zip container: over a file in memory, or over a file on disk
/// too large to hold (its entries read with positioned reads, one at a
/// time, so that memory follows the entry being read, not the file).
pub struct Package<'a> {
    /// The file in memory; `None` on disk.
    bytes: Option<&'a [u8]>,
    archive: ZipArchive<Source<'a>>,
    entries: Vec<EntryInfo>,
}

/// Where a package's bytes are.
enum Source<'a> {
    Memory(Cursor<&'a [u8]>),
    Disk(BufReader<DiskReader<'a>>),
}

/// A file read with `pread` from its own position: the zip reader's seeks
/// cost no system call, and the file's shared offset is never moved.
struct DiskReader<'a> {
    file: &'a File,
    len: u64,
    pos: u64,
}

impl Read for DiskReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let room = self.len.saturating_sub(self.pos);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for DiskReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let at = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = at.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start")
        })?;
        Ok(self.pos)
    }
}

impl Read for Source<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Source::Memory(c) => c.read(buf),
            Source::Disk(d) => d.read(buf),
        }
    }
}

impl Seek for Source<'_> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        match self {
            Source::Memory(c) => c.seek(to),
            Source::Disk(d) => d.seek(to),
        }
    }
}

fn map_open_error(e: &ZipError) -> ExtractError {
    match e {
        ZipError::UnsupportedArchive(msg) if *msg == ZipError::PASSWORD_REQUIRED => {
            ExtractError::encrypted("zip entry is password-protected")
        }
        ZipError::UnsupportedArchive(_) => ExtractError::corrupt("unsupported zip feature"),
        ZipError::CompressionMethodNotSupported(_) => {
            ExtractError::corrupt("unsupported zip compression method")
        }
        ZipError::InvalidPassword => ExtractError::encrypted("zip entry is password-protected"),
        _ => ExtractError::corrupt("zip structure is damaged"),
    }
}

/// The CRC-32 of `data`, by libdeflate (already linked for inflating):
/// its carry-less multiplication on wide vectors took half the time of
/// zlib-rs's in a scan's profile, where this checksum covers every byte
/// inflated.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    // SAFETY: libdeflate reads exactly `data.len()` bytes from a live slice
    // and keeps no pointer; 0 starts a new checksum.
    unsafe { libdeflate_sys::libdeflate_crc32(0, data.as_ptr().cast(), data.len()) }
}

/// Data that does not match its declared CRC-32 is damaged or was altered
/// (a member longer than declared, cut to size, fails here too).
fn check_crc(data: &[u8], declared: u32) -> ExtractResult<()> {
    if crc32(data) == declared {
        Ok(())
    } else {
        Err(crc_mismatch())
    }
}

fn crc_mismatch() -> ExtractError {
    ExtractError::corrupt("zip entry data does not match its CRC-32")
}

impl<'a> Package<'a> {
    /// Opens the central directory; `corrupt` if there is none, `limit_exceeded`
    /// if it lists more entries than allowed.
    pub fn open(bytes: &'a [u8], budget: &Budget) -> ExtractResult<Self> {
        Self::open_source(Source::Memory(Cursor::new(bytes)), Some(bytes), budget)
    }

    /// [`Package::open`] over a file on disk of `len` bytes, read in place.
    pub fn open_file(file: &'a File, len: u64, budget: &Budget) -> ExtractResult<Self> {
        let reader = DiskReader { file, len, pos: 0 };
        let source = Source::Disk(BufReader::with_capacity(64 * 1024, reader));
        Self::open_source(source, None, budget)
    }

    fn open_source(
        source: Source<'a>,
        bytes: Option<&'a [u8]>,
        budget: &Budget,
    ) -> ExtractResult<Self> {
        let archive = ZipArchive::new(source)
            .map_err(|_| ExtractError::corrupt("zip central directory not found or damaged"))?;
        if archive.len() > budget.limits.max_entries {
            return Err(ExtractError::limit("zip has more entries than the limit"));
        }
        let mut entries = Vec::with_capacity(archive.len());
        let mut spans = Vec::with_capacity(archive.len());
        for i in 0..archive.len() {
            let e = archive
                .by_index_data(i)
                .map_err(|_| ExtractError::corrupt("zip central directory entry is damaged"))?;
            let name = match e.name() {
                Ok(n) => n.into_owned(),
                // Escaped, not decoded lossily: two members must never share a path.
                Err(_) => escape_bytes(e.name_raw()),
            };
            spans.push(EntrySpan::of(i, e.header_start(), e.compressed_size()));
            entries.push(EntryInfo {
                name,
                size: e.size(),
                compressed: e.compressed_size(),
                is_dir: e.is_dir(),
                encrypted: e.encrypted(),
                overlaps: false,
                crc32: e.crc32(),
            });
        }
        for i in overlapping(spans) {
            entries[i].overlaps = true;
        }
        Ok(Package {
            bytes,
            archive,
            entries,
        })
    }

    pub fn entries(&self) -> &[EntryInfo] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Index of the entry named `name` (exact, then ASCII case-insensitive,
    /// with or without a leading `/`).
    pub fn find(&self, name: &str) -> Option<usize> {
        let name = name.trim_start_matches('/');
        if let Some(i) = self.archive.index_for_name(name) {
            return Some(i);
        }
        self.entries
            .iter()
            .position(|e| e.name.trim_start_matches('/').eq_ignore_ascii_case(name))
    }

    pub fn has(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// Names of entries matching `pred`, in archive order.
    pub fn names_where(&self, mut pred: impl FnMut(&str) -> bool) -> Vec<String> {
        self.entries
            .iter()
            .filter(|e| !e.is_dir && pred(&e.name))
            .map(|e| e.name.clone())
            .collect()
    }

    /// Inflates entry `index` into `buf` (cleared first), within the budget.
    pub fn read_index_into(
        &mut self,
        index: usize,
        budget: &Budget,
        buf: &mut Vec<u8>,
    ) -> ExtractResult<()> {
        buf.clear();
        budget.check_time()?;
        budget.charge_piece()?;
        let info = self
            .entries
            .get(index)
            .ok_or_else(|| ExtractError::corrupt("zip entry missing"))?;
        if info.encrypted {
            return Err(ExtractError::encrypted("zip entry is password-protected"));
        }
        if info.overlaps {
            return Err(ExtractError::corrupt(
                "zip entry overlaps the data of another entry",
            ));
        }
        budget.check_part(info.compressed, info.size)?;
        budget.check_room(info.size)?;
        let declared = info.size;
        let declared_crc = info.crc32;
        let max_part = budget.limits.max_part_bytes;
        let damaged = || ExtractError::corrupt("zip entry data is damaged");
        let result = match self.deflated_data(index) {
            Some(raw) => {
                // One byte beyond the declared size lets data longer than
                // declared show itself instead of being cut silently.
                let limit = declared.min(max_part).saturating_add(1);
                let expected = usize::try_from(limit).unwrap_or(usize::MAX);
                match inflate_into(raw, Framing::Raw, limit, expected, budget, buf) {
                    Ok(()) if buf.len() as u64 > declared => Err(ExtractError::corrupt(
                        "zip entry data is longer than its declared size",
                    )),
                    Ok(()) if buf.len() as u64 == declared => check_crc(buf, declared_crc),
                    Ok(()) | Err(InflateError::Damaged) => Err(damaged()),
                    Err(InflateError::Budget(e)) => Err(e),
                }
            }
            None => {
                let mut file = self
                    .archive
                    .by_index(index)
                    .map_err(|e| map_open_error(&e))?;
                // The zip crate caps output at the declared size; the extra
                // byte lets an over-long stream show itself.
                let cap = declared.min(max_part).saturating_add(1);
                buf.reserve(declared.min(max_part).min(64 * 1024 * 1024) as usize);
                match (&mut file).take(cap).read_to_end(buf) {
                    Ok(_) => Ok(()),
                    // The zip crate checks the CRC once everything was read.
                    Err(e)
                        if buf.len() as u64 == declared
                            && e.kind() == std::io::ErrorKind::InvalidData =>
                    {
                        Err(crc_mismatch())
                    }
                    Err(_) => Err(damaged()),
                }
            }
        };
        budget.charge_inflated(buf.len() as u64)?;
        if buf.len() as u64 > max_part {
            return Err(ExtractError::limit(
                "a part's decompressed size exceeds the limit",
            ));
        }
        result
    }

    /// Inflates text entry `index` (an XML part) into `buf`, cleared first:
    /// like [`Package::read_index_into`], except that an entry declaring
    /// more than the budget's `max_part_kept` bytes is inflated only that
    /// far, before the rest is produced, and cut after its last complete
    /// tag or line. `Ok(true)` when the entry was cut: its document is then
    /// only partly read. A cut entry's CRC cannot be checked.
    pub fn read_text_index_into(
        &mut self,
        index: usize,
        budget: &Budget,
        buf: &mut Vec<u8>,
    ) -> ExtractResult<bool> {
        let kept = budget.limits.max_part_kept;
        let Some(info) = self.entries.get(index) else {
            return Err(ExtractError::corrupt("zip entry missing"));
        };
        if info.size <= kept || info.encrypted || info.overlaps {
            return self.read_index_into(index, budget, buf).map(|()| false);
        }
        buf.clear();
        budget.check_time()?;
        budget.charge_piece()?;
        budget.check_part(info.compressed, info.size)?;
        budget.check_room(kept)?;
        let damaged = || ExtractError::corrupt("zip entry data is damaged");
        match self.deflated_data(index) {
            Some(raw) => {
                let expected = usize::try_from(kept).unwrap_or(usize::MAX);
                match inflate_into(raw, Framing::Raw, kept, expected, budget, buf) {
                    Ok(()) => {}
                    Err(InflateError::Damaged) => return Err(damaged()),
                    Err(InflateError::Budget(e)) => return Err(e),
                }
            }
            None => {
                let mut file = self
                    .archive
                    .by_index(index)
                    .map_err(|e| map_open_error(&e))?;
                buf.reserve(usize::try_from(kept).unwrap_or(0));
                (&mut file)
                    .take(kept)
                    .read_to_end(buf)
                    .map_err(|_| damaged())?;
            }
        }
        budget.charge_inflated(buf.len() as u64)?;
        if (buf.len() as u64) < kept {
            // Shorter than its declared size: damaged or altered.
            return Err(damaged());
        }
        // After the last complete tag or line: no markup is cut in two, and
        // no character either ('>' and '\n' are single bytes in UTF-8).
        let tail = buf.len().saturating_sub(1 << 20);
        if let Some(at) = memchr::memrchr2(b'>', b'\n', &buf[tail..]) {
            buf.truncate(tail + at + 1);
        }
        Ok(true)
    }

    /// The compressed bytes of a plain deflated entry, borrowed from the
    /// file; `None` for other methods (stored, encrypted, ...), which go
    /// through the `zip` crate's reader.
    fn deflated_data(&mut self, index: usize) -> Option<&'a [u8]> {
        let file = self.archive.by_index_raw(index).ok()?;
        if file.compression() != zip::CompressionMethod::Deflated || file.encrypted() {
            return None;
        }
        let start = usize::try_from(file.data_start()?).ok()?;
        let len = usize::try_from(file.compressed_size()).ok()?;
        self.bytes?.get(start..start.checked_add(len)?)
    }

    /// Inflates entry `index` into a new buffer.
    pub fn read_index(&mut self, index: usize, budget: &Budget) -> ExtractResult<Vec<u8>> {
        let mut buf = Vec::new();
        self.read_index_into(index, budget, &mut buf)?;
        Ok(buf)
    }

    /// Inflates the entry named `name`; `Ok(None)` when there is none.
    pub fn read_name(&mut self, name: &str, budget: &Budget) -> ExtractResult<Option<Vec<u8>>> {
        match self.find(name) {
            Some(i) => self.read_index(i, budget).map(Some),
            None => Ok(None),
        }
    }

    /// Name of entry `index`.
    pub fn name(&self, index: usize) -> Cow<'_, str> {
        match self.entries.get(index) {
            Some(e) => Cow::Borrowed(e.name.as_str()),
            None => Cow::Borrowed(""),
        }
    }
}

/// Where an entry lies in the file: from its local header to the end of
/// its compressed data (the local header's own name and extra field are
/// left out of the length, which only makes the span shorter).
struct EntrySpan {
    index: usize,
    start: u64,
    end: u64,
}

impl EntrySpan {
    /// The fixed part of a local file header.
    const LOCAL_HEADER: u64 = 30;

    fn of(index: usize, header_start: u64, compressed: u64) -> EntrySpan {
        EntrySpan {
            index,
            start: header_start,
            end: header_start
                .saturating_add(Self::LOCAL_HEADER)
                .saturating_add(compressed),
        }
    }
}

/// The entries whose span starts inside an earlier one's: all but the
/// first of each group of entries sharing bytes.
fn overlapping(mut spans: Vec<EntrySpan>) -> Vec<usize> {
    spans.sort_unstable_by_key(|s| (s.start, s.index));
    let mut reached = 0u64;
    let mut found = Vec::new();
    for span in &spans {
        if span.start < reached {
            found.push(span.index);
        }
        reached = reached.max(span.end);
    }
    found
}

#[cfg(test)]
pub(crate) mod testzip {
    //! Builds zip files in memory for tests.
    use std::io::{Cursor, Write};

    use zip::write::SimpleFileOptions;
    use zip::{CompressionMethod, ZipWriter};

    pub fn build(members: &[(&str, &[u8])]) -> Vec<u8> {
        build_with(members, CompressionMethod::Deflated)
    }

    pub fn build_with(members: &[(&str, &[u8])], method: CompressionMethod) -> Vec<u8> {
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        let opts = SimpleFileOptions::default()
            .compression_method(method)
            .large_file(false);
        for (name, data) in members {
            if name.ends_with('/') {
                w.add_directory(*name, opts).unwrap();
            } else {
                w.start_file(*name, opts).unwrap();
                w.write_all(data).unwrap();
            }
        }
        w.finish().unwrap().into_inner()
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::model::budget::Limits;

    #[test]
    fn reads_members_and_rejects_garbage() {
        let z = testzip::build(&[("a.txt", b"hello"), ("dir/", b""), ("dir/b.txt", b"world")]);
        let budget = Budget::new(Limits::default());
        let mut p = Package::open(&z, &budget).unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(
            p.read_name("dir/b.txt", &budget).unwrap().unwrap(),
            b"world"
        );
        assert_eq!(p.read_name("/A.TXT", &budget).unwrap().unwrap(), b"hello");
        assert!(p.read_name("nope", &budget).unwrap().is_none());

        let err = Package::open(b"PK\x03\x04garbage", &budget).err().unwrap();
        assert_eq!(err.kind, crate::extract::ErrorKind::Corrupt);
        let truncated = &z[..z.len() - 10];
        assert!(Package::open(truncated, &budget).is_err());
    }

    #[test]
    fn entries_sharing_data_are_never_inflated() {
        let z = testzip::build(&[("a.txt", b"hello"), ("b.txt", b"world")]);
        // A second central directory entry, c.txt, pointing at a.txt's
        // local header: a copy of a.txt's central header under another name.
        let cd = z.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
        let second = cd
            + 4
            + z[cd + 4..]
                .windows(4)
                .position(|w| w == b"PK\x01\x02")
                .unwrap();
        let eocd = z.windows(4).rposition(|w| w == b"PK\x05\x06").unwrap();
        let mut bomb = z[..eocd].to_vec();
        let mut copy = z[cd..second].to_vec();
        let name_at = copy.windows(5).position(|w| w == b"a.txt").unwrap();
        copy[name_at] = b'c';
        bomb.extend_from_slice(&copy);
        let mut end = z[eocd..].to_vec();
        for at in [8, 10] {
            let n = u16::from_le_bytes([end[at], end[at + 1]]) + 1;
            end[at..at + 2].copy_from_slice(&n.to_le_bytes());
        }
        let cd_len = u32::from_le_bytes(end[12..16].try_into().unwrap()) + (second - cd) as u32;
        end[12..16].copy_from_slice(&cd_len.to_le_bytes());
        bomb.extend_from_slice(&end);

        let budget = Budget::new(Limits::default());
        let mut p = Package::open(&bomb, &budget).unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p.read_index(0, &budget).unwrap(), b"hello");
        assert_eq!(p.read_index(1, &budget).unwrap(), b"world");
        assert!(p.entries()[2].overlaps);
        let err = p.read_index(2, &budget).err().unwrap();
        assert_eq!(err.kind, crate::extract::ErrorKind::Corrupt);
    }

    #[test]
    fn crc32_agrees_with_zlib() {
        let long: Vec<u8> = (0..100_000u32).map(|i| (i * 7919 % 251) as u8).collect();
        for data in [&b""[..], b"a", b"123456789", &long, &long[3..65_539]] {
            let mut oracle = flate2::Crc::new();
            oracle.update(data);
            assert_eq!(crc32(data), oracle.sum(), "{} bytes", data.len());
        }
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn entry_count_limit() {
        let z = testzip::build(&[("a", b"1"), ("b", b"2"), ("c", b"3")]);
        let budget = Budget::new(Limits {
            max_entries: 2,
            ..Limits::default()
        });
        let err = Package::open(&z, &budget).err().unwrap();
        assert_eq!(err.kind, crate::extract::ErrorKind::LimitExceeded);
    }

    #[test]
    fn bomb_fails_fast_without_inflating() {
        let zeros = vec![0u8; 64 * 1024 * 1024];
        let z = testzip::build(&[("bomb.xml", &zeros)]);
        assert!(z.len() < 1024 * 1024);
        drop(zeros);
        let budget = Budget::new(Limits::default());
        let mut p = Package::open(&z, &budget).unwrap();
        let err = p.read_index(0, &budget).err().unwrap();
        assert_eq!(err.kind, crate::extract::ErrorKind::LimitExceeded);
        assert_eq!(
            budget.room(),
            Limits::default().max_total_inflated,
            "bomb check must not inflate"
        );
    }

    #[test]
    fn part_and_total_limits() {
        let data = vec![b'x'; 5000];
        let z = testzip::build_with(
            &[("a", &data), ("b", &data)],
            zip::CompressionMethod::Stored,
        );
        let budget = Budget::new(Limits {
            max_part_bytes: 4000,
            ..Limits::default()
        });
        let mut p = Package::open(&z, &budget).unwrap();
        assert_eq!(
            p.read_index(0, &budget).err().unwrap().kind,
            crate::extract::ErrorKind::LimitExceeded
        );
        let budget = Budget::new(Limits {
            max_total_inflated: 8000,
            ..Limits::default()
        });
        let mut p = Package::open(&z, &budget).unwrap();
        assert!(p.read_index(0, &budget).is_ok());
        assert_eq!(
            p.read_index(1, &budget).err().unwrap().kind,
            crate::extract::ErrorKind::LimitExceeded
        );
    }

    #[test]
    fn deflated_members_inflate_and_damage_is_corrupt() {
        let text: Vec<u8> = b"<w:t>quarterly budget review</w:t>".repeat(4000);
        let z = testzip::build(&[("a.xml", &text), ("b.xml", b"<x/>")]);
        let budget = Budget::new(Limits::default());
        let mut p = Package::open(&z, &budget).unwrap();
        // The same thread-local inflater serves both, one after the other.
        assert_eq!(p.read_index(0, &budget).unwrap(), text);
        assert_eq!(p.read_index(1, &budget).unwrap(), b"<x/>");

        let raw = p.deflated_data(0).expect("a deflated member");
        let start = raw.as_ptr() as usize - z.as_ptr() as usize;
        let mut damaged = z.clone();
        for b in &mut damaged[start + raw.len() / 2..start + raw.len()] {
            *b = 0xFF;
        }
        let mut p = Package::open(&damaged, &budget).unwrap();
        let err = p.read_index(0, &budget).err().unwrap();
        assert_eq!(err.kind, crate::extract::ErrorKind::Corrupt);
        assert_eq!(p.read_index(1, &budget).unwrap(), b"<x/>");
    }
}
