//! A zip rewriter over raw entries, for labelling without harm: every
//! member that is not replaced keeps its local header, extra fields,
//! compressed bytes and data descriptor byte for byte, in the same order;
//! the central directory keeps each record (only the offset field moves when
//! an entry before it changed size) and the end record keeps the archive
//! comment. Replaced members are compressed as they were (stored or
//! deflated) and keep their names, extra fields and times; new members go
//! after the last one.
//!
//! Layouts this cannot rewrite without touching bytes it does not own
//! (zip64, split archives, encrypted entries, data between the central
//! directory and its end record, entries sharing data) are refused, so
//! that such a file is skipped with the reason instead of being altered.

use std::io::{Read, Write};

use crate::extract::zipread::crc32;

const LOCAL_SIG: u32 = 0x0403_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const END_SIG: u32 = 0x0605_4b50;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
const END_LEN: usize = 22;
const CENTRAL_LEN: usize = 46;
const LOCAL_LEN: usize = 30;
const STORED: u16 = 0;
const DEFLATED: u16 = 8;
/// General purpose flags: encrypted, data descriptor follows, UTF-8 name.
const FLAG_ENCRYPTED: u16 = 1;
const FLAG_DESCRIPTOR: u16 = 1 << 3;
const FLAG_UTF8: u16 = 1 << 11;
/// Label parts are small; a larger one is no label part we should rewrite.
pub const MAX_PART_BYTES: usize = 16 << 20;

/// Why a zip cannot be rewritten (or read) here; the text goes into
/// `apply.csv` and never holds document content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipError(pub String);

impl std::fmt::Display for ZipError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(why: &str) -> Result<T, ZipError> {
    Err(ZipError(why.to_string()))
}

/// One entry as the central directory and its local header describe it.
#[derive(Debug, Clone)]
pub struct RawEntry {
    /// The name as stored (bytes; OOXML and ODF part names are ASCII).
    pub name: Vec<u8>,
    pub method: u16,
    pub flags: u16,
    pub crc: u32,
    pub compressed: u32,
    pub size: u32,
    /// The central directory record: `central..central_end` of the source.
    central: usize,
    central_end: usize,
    /// The local header's offset, where its data starts, and where the
    /// next entry (or the central directory) starts.
    local: usize,
    data: usize,
    segment_end: usize,
}

impl RawEntry {
    pub fn name_str(&self) -> &str {
        std::str::from_utf8(&self.name).unwrap_or("")
    }
}

/// A parsed zip over the file's bytes.
pub struct RawZip<'a> {
    bytes: &'a [u8],
    /// Entries in central directory order.
    entries: Vec<RawEntry>,
    /// Indices into `entries` in the order their data lies in the file.
    local_order: Vec<usize>,
    central_start: usize,
    end: usize,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// The end record: the last `PK\5\6` whose comment reaches exactly the end
/// of the file.
fn find_end(bytes: &[u8]) -> Option<usize> {
    let last = bytes.len().checked_sub(END_LEN)?;
    let first = last.saturating_sub(u16::MAX as usize);
    (first..=last).rev().find(|&at| {
        u32_at(bytes, at) == Some(END_SIG)
            && u16_at(bytes, at + 20).map(|n| at + END_LEN + n as usize) == Some(bytes.len())
    })
}

impl<'a> RawZip<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<RawZip<'a>, ZipError> {
        let Some(end) = find_end(bytes) else {
            return err("no zip end record");
        };
        if end >= 20 && u32_at(bytes, end - 20) == Some(ZIP64_LOCATOR_SIG) {
            return err("zip64 archive");
        }
        let field = |at| u16_at(bytes, end + at).unwrap_or(0);
        if field(4) != 0 || field(6) != 0 || field(8) != field(10) {
            return err("split zip archive");
        }
        let count = field(10) as usize;
        let central_size = u32_at(bytes, end + 12).unwrap_or(0) as usize;
        let central_start = u32_at(bytes, end + 16).unwrap_or(0) as usize;
        if count == 0xFFFF || central_start as u32 == u32::MAX || central_size as u32 == u32::MAX {
            return err("zip64 archive");
        }
        if central_start.checked_add(central_size) != Some(end) {
            return err("unusual zip layout (data around the central directory)");
        }
        let mut entries = Vec::with_capacity(count);
        let mut at = central_start;
        for _ in 0..count {
            let entry = central_record(bytes, at)?;
            at = entry.central_end;
            entries.push(entry);
        }
        if at != end {
            return err("central directory size does not match its records");
        }
        let local_order = lay_out(bytes, &mut entries, central_start)?;
        Ok(RawZip {
            bytes,
            entries,
            local_order,
            central_start,
            end,
        })
    }

    pub fn entries(&self) -> &[RawEntry] {
        &self.entries
    }

    pub fn find(&self, name: &str) -> Option<&RawEntry> {
        self.entries.iter().find(|e| e.name == name.as_bytes())
    }

    pub fn has(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// The raw bytes of an entry from its local header to the next entry:
    /// what an untouched member is copied as.
    pub fn segment(&self, entry: &RawEntry) -> &'a [u8] {
        &self.bytes[entry.local..entry.segment_end]
    }

    /// An entry's uncompressed bytes, checked against its CRC-32.
    pub fn read(&self, name: &str) -> Result<Option<Vec<u8>>, ZipError> {
        let Some(e) = self.find(name) else {
            return Ok(None);
        };
        if e.size as usize > MAX_PART_BYTES {
            return err("a label part is larger than 16 MiB");
        }
        let raw = &self.bytes[e.data..e.data + e.compressed as usize];
        let data = match e.method {
            STORED => raw.to_vec(),
            DEFLATED => {
                let mut out = Vec::with_capacity(e.size as usize);
                flate2::read::DeflateDecoder::new(raw)
                    .take(MAX_PART_BYTES as u64 + 1)
                    .read_to_end(&mut out)
                    .map_err(|_| ZipError("a label part does not inflate".into()))?;
                out
            }
            _ => return err("unsupported zip compression method"),
        };
        if data.len() != e.size as usize || crc32(&data) != e.crc {
            return err("a label part does not match its CRC-32");
        }
        Ok(Some(data))
    }

    /// The zip with `replace`d members (same place, same compression
    /// method) and `add`ed ones (deflated, after the last member); every
    /// other byte as it was.
    pub fn rewrite(&self, replace: &[(String, Vec<u8>)], add: &[(String, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bytes.len() + 4096);
        let first = self
            .local_order
            .first()
            .map(|&i| self.entries[i].local)
            .unwrap_or(self.central_start);
        out.extend_from_slice(&self.bytes[..first]);
        let mut offsets = vec![0u32; self.entries.len()];
        let mut patched: Vec<Option<Packed>> = vec![None; self.entries.len()];
        for &i in &self.local_order {
            let e = &self.entries[i];
            offsets[i] = out.len() as u32;
            match replace.iter().find(|(n, _)| n.as_bytes() == e.name) {
                Some((_, data)) => {
                    let packed = Packed::of(data, e.method);
                    out.extend_from_slice(&self.replaced_local(e, &packed));
                    out.extend_from_slice(&packed.data);
                    patched[i] = Some(packed);
                }
                None => out.extend_from_slice(self.segment(e)),
            }
        }
        let mut added = Vec::with_capacity(add.len());
        for (name, data) in add {
            let offset = out.len() as u32;
            let packed = Packed::of(data, DEFLATED);
            let (local, central) = new_headers(name, &packed, offset);
            out.extend_from_slice(&local);
            out.extend_from_slice(&packed.data);
            added.push(central);
        }
        let central_start = out.len();
        for (i, e) in self.entries.iter().enumerate() {
            let mut record = self.bytes[e.central..e.central_end].to_vec();
            put_u32(&mut record, 42, offsets[i]);
            if let Some(p) = &patched[i] {
                put_u16(&mut record, 8, e.flags & !FLAG_DESCRIPTOR);
                put_u32(&mut record, 16, p.crc);
                put_u32(&mut record, 20, p.data.len() as u32);
                put_u32(&mut record, 24, p.size);
            }
            out.extend_from_slice(&record);
        }
        for record in &added {
            out.extend_from_slice(record);
        }
        let central_size = out.len() - central_start;
        let mut end = self.bytes[self.end..].to_vec();
        let count = (self.entries.len() + added.len()) as u16;
        put_u16(&mut end, 8, count);
        put_u16(&mut end, 10, count);
        put_u32(&mut end, 12, central_size as u32);
        put_u32(&mut end, 16, central_start as u32);
        out.extend_from_slice(&end);
        out
    }

    /// The original local header with the new data's sizes and checksum
    /// (and no data descriptor, since the sizes are now known up front).
    fn replaced_local(&self, e: &RawEntry, packed: &Packed) -> Vec<u8> {
        let mut header = self.bytes[e.local..e.data].to_vec();
        let flags = u16_at(&header, 6).unwrap_or(0) & !FLAG_DESCRIPTOR;
        put_u16(&mut header, 6, flags);
        put_u32(&mut header, 14, packed.crc);
        put_u32(&mut header, 18, packed.data.len() as u32);
        put_u32(&mut header, 22, packed.size);
        header
    }
}

/// Parses the central directory record at `at`.
fn central_record(bytes: &[u8], at: usize) -> Result<RawEntry, ZipError> {
    if u32_at(bytes, at) != Some(CENTRAL_SIG) {
        return err("damaged central directory");
    }
    let h = |o| u16_at(bytes, at + o).unwrap_or(0);
    let w = |o| u32_at(bytes, at + o).unwrap_or(0);
    let (name_len, extra_len, comment_len) = (h(28) as usize, h(30) as usize, h(32) as usize);
    let central_end = at + CENTRAL_LEN + name_len + extra_len + comment_len;
    if central_end > bytes.len() {
        return err("damaged central directory");
    }
    let flags = h(8);
    if flags & FLAG_ENCRYPTED != 0 {
        return err("encrypted zip entry");
    }
    if h(34) != 0 {
        return err("split zip archive");
    }
    let (compressed, size, local) = (w(20), w(24), w(42));
    if [compressed, size, local].contains(&u32::MAX) {
        return err("zip64 entry");
    }
    Ok(RawEntry {
        name: bytes[at + CENTRAL_LEN..at + CENTRAL_LEN + name_len].to_vec(),
        method: h(10),
        flags,
        crc: w(16),
        compressed,
        size,
        central: at,
        central_end,
        local: local as usize,
        data: 0,
        segment_end: 0,
    })
}

/// Checks each local header against its central record and finds where
/// each entry's bytes end; entries must follow one another without
/// sharing bytes.
fn lay_out(
    bytes: &[u8],
    entries: &mut [RawEntry],
    central_start: usize,
) -> Result<Vec<usize>, ZipError> {
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|&i| entries[i].local);
    for (k, &i) in order.iter().enumerate() {
        let next = order
            .get(k + 1)
            .map(|&j| entries[j].local)
            .unwrap_or(central_start);
        let e = &mut entries[i];
        let at = e.local;
        if u32_at(bytes, at) != Some(LOCAL_SIG) {
            return err("a local header is missing");
        }
        let name_len = u16_at(bytes, at + 26).unwrap_or(0) as usize;
        let extra_len = u16_at(bytes, at + 28).unwrap_or(0) as usize;
        let name = bytes.get(at + LOCAL_LEN..at + LOCAL_LEN + name_len);
        if name != Some(&e.name[..]) {
            return err("a local header does not match the central directory");
        }
        e.data = at + LOCAL_LEN + name_len + extra_len;
        e.segment_end = next;
        if e.data + e.compressed as usize > next {
            return err("zip entries overlap");
        }
    }
    let mut names: Vec<&[u8]> = entries.iter().map(|e| &e.name[..]).collect();
    names.sort();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return err("a zip entry name appears twice");
    }
    Ok(order)
}

/// A member's new bytes, compressed.
#[derive(Clone)]
struct Packed {
    data: Vec<u8>,
    crc: u32,
    size: u32,
}

impl Packed {
    fn of(data: &[u8], method: u16) -> Packed {
        let packed = if method == STORED {
            data.to_vec()
        } else {
            let mut enc =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            // Writing into a Vec cannot fail.
            let _ = enc.write_all(data);
            enc.finish().unwrap_or_default()
        };
        Packed {
            data: packed,
            crc: crc32(data),
            size: data.len() as u32,
        }
    }
}

/// The local header and central record of a new, deflated member.
fn new_headers(name: &str, packed: &Packed, offset: u32) -> (Vec<u8>, Vec<u8>) {
    let (time, date) = dos_now();
    let flags = if name.is_ascii() { 0 } else { FLAG_UTF8 };
    let mut local = Vec::with_capacity(LOCAL_LEN + name.len());
    local.extend_from_slice(&LOCAL_SIG.to_le_bytes());
    for v in [20u16, flags, DEFLATED, time, date] {
        local.extend_from_slice(&v.to_le_bytes());
    }
    for v in [packed.crc, packed.data.len() as u32, packed.size] {
        local.extend_from_slice(&v.to_le_bytes());
    }
    local.extend_from_slice(&(name.len() as u16).to_le_bytes());
    local.extend_from_slice(&0u16.to_le_bytes());
    local.extend_from_slice(name.as_bytes());
    let mut central = Vec::with_capacity(CENTRAL_LEN + name.len());
    central.extend_from_slice(&CENTRAL_SIG.to_le_bytes());
    for v in [20u16, 20, flags, DEFLATED, time, date] {
        central.extend_from_slice(&v.to_le_bytes());
    }
    for v in [packed.crc, packed.data.len() as u32, packed.size] {
        central.extend_from_slice(&v.to_le_bytes());
    }
    for v in [name.len() as u16, 0, 0, 0, 0] {
        central.extend_from_slice(&v.to_le_bytes());
    }
    central.extend_from_slice(&0u32.to_le_bytes());
    central.extend_from_slice(&offset.to_le_bytes());
    central.extend_from_slice(name.as_bytes());
    (local, central)
}

/// The current local time as MS-DOS time and date fields.
fn dos_now() -> (u16, u16) {
    use chrono::{Datelike, Timelike};
    let now = chrono::Local::now().naive_local();
    let year = (now.year().clamp(1980, 2107) - 1980) as u16;
    let time =
        ((now.hour() as u16) << 11) | ((now.minute() as u16) << 5) | (now.second() as u16 / 2);
    let date = (year << 9) | ((now.month() as u16) << 5) | now.day() as u16;
    (time, date)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zip::write::SimpleFileOptions;

    fn sample(comment: &str) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let stored =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        let deflated =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        w.start_file("mimetype", stored).unwrap();
        w.write_all(b"application/test").unwrap();
        w.start_file("a.xml", deflated).unwrap();
        w.write_all(&b"<a>hello</a>".repeat(50)).unwrap();
        w.start_file("b.xml", stored).unwrap();
        w.write_all(b"<b/>").unwrap();
        w.set_comment(comment).unwrap();
        w.finish().unwrap().into_inner()
    }

    fn read_all(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        (0..z.len())
            .map(|i| {
                let mut f = z.by_index(i).unwrap();
                let mut v = Vec::new();
                f.read_to_end(&mut v).unwrap();
                (f.name().unwrap().to_string(), v)
            })
            .collect()
    }

    #[test]
    fn untouched_members_keep_their_bytes_and_the_comment_stays() {
        let original = sample("kept comment");
        let zip = RawZip::parse(&original).unwrap();
        let out = zip.rewrite(
            &[("a.xml".to_string(), b"<a>changed</a>".to_vec())],
            &[("new/c.xml".to_string(), b"<c/>".to_vec())],
        );
        let again = RawZip::parse(&out).unwrap();
        for name in ["mimetype", "b.xml"] {
            let (before, after) = (zip.find(name).unwrap(), again.find(name).unwrap());
            assert_eq!(zip.segment(before), again.segment(after), "{name}");
        }
        let read = read_all(&out);
        let names: Vec<&str> = read.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["mimetype", "a.xml", "b.xml", "new/c.xml"]);
        assert_eq!(read[1].1, b"<a>changed</a>");
        assert_eq!(read[3].1, b"<c/>");
        assert_eq!(again.find("a.xml").unwrap().method, DEFLATED);
        assert!(out.ends_with(b"kept comment"));
        assert_eq!(again.read("a.xml").unwrap().unwrap(), b"<a>changed</a>");
    }

    #[test]
    fn nothing_changed_gives_the_same_bytes() {
        let original = sample("");
        let zip = RawZip::parse(&original).unwrap();
        assert_eq!(zip.rewrite(&[], &[]), original);
    }

    #[test]
    fn a_stored_member_stays_stored() {
        let original = sample("");
        let zip = RawZip::parse(&original).unwrap();
        let out = zip.rewrite(&[("b.xml".to_string(), b"<b>x</b>".to_vec())], &[]);
        let again = RawZip::parse(&out).unwrap();
        assert_eq!(again.find("b.xml").unwrap().method, STORED);
        assert_eq!(read_all(&out)[2].1, b"<b>x</b>");
    }

    #[test]
    fn garbage_and_cut_zips_are_refused() {
        assert!(RawZip::parse(b"not a zip at all, not at all").is_err());
        let original = sample("");
        for cut in [10, original.len() / 2, original.len() - 1] {
            assert!(RawZip::parse(&original[..cut]).is_err(), "cut at {cut}");
        }
    }
}
