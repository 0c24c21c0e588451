//! Legacy OLE2 (Compound File) documents: Word 97-2003 `.doc`, Excel
//! `.xls`, PowerPoint `.ppt`, other OLE files (embedded objects, .msg) and
//! encrypted OOXML packages. Property sets are read from every OLE file,
//! including encrypted ones, because that is where labels of binary Office
//! files live.

use std::io::{Cursor, Read};

use super::{ErrorKind, ExtractError, ExtractResult, Extracted, Format, LabelInfoEntry, PartKind};
use crate::model::budget::Budget;

mod agile;
mod biffcrypt;
mod doc;
mod ppt;
pub mod propset;
mod xls;

pub(crate) use doc::{field_code_text, is_word2, FieldText, MAX_FIELD_CODE};
pub use propset::{read_property_set, OleProperty};
pub(crate) use xls::is_bare_biff;

type Ole<'a> = cfb::CompoundFile<Cursor<std::borrow::Cow<'a, [u8]>>>;

/// Little-endian readers that return `None` past the end instead of panicking.
pub(crate) mod bytes {
    pub fn le_u16(b: &[u8], at: usize) -> Option<u16> {
        let s = b.get(at..at.checked_add(2)?)?;
        Some(u16::from_le_bytes([s[0], s[1]]))
    }
    pub fn le_u32(b: &[u8], at: usize) -> Option<u32> {
        let s = b.get(at..at.checked_add(4)?)?;
        Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    pub fn le_u64(b: &[u8], at: usize) -> Option<u64> {
        let s = b.get(at..at.checked_add(8)?)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Some(u64::from_le_bytes(a))
    }
}

/// Extracts a legacy OLE document. Property sets and `\x06DataSpaces`
/// label metadata are returned even when the content is encrypted.
pub fn extract(format: Format, bytes: &[u8], budget: &Budget) -> Extracted {
    let mut out = Extracted::default();
    // Excel 2.x-4.0 and Word 1.x/2.0 files have no OLE container.
    let bare = match format {
        Format::Xls if xls::is_bare_biff(bytes) => Some(xls::extract_bare(bytes, budget, &mut out)),
        Format::Doc if doc::is_word2(bytes) => Some(doc::extract_word2(bytes, budget, &mut out)),
        _ => None,
    };
    if let Some(result) = bare {
        out.error = result.err();
        return out;
    }
    let mut ole = match open_ole(bytes) {
        Ok(ole) => ole,
        Err(_) => {
            return Extracted::failed(ExtractError::corrupt(
                "OLE compound file header or allocation table unreadable",
            ))
        }
    };
    if let Err(e) = read_ole_metadata(&mut ole, budget, &mut out) {
        out.error = Some(e);
        return out;
    }
    let result = if format == Format::EncryptedOoxml {
        extract_encrypted_ooxml(&mut ole, budget, &mut out)
    } else if has_stream(&ole, "/\tDRMContent")
        || find_entry(&ole, "/\u{6}DataSpaces").is_some_and(|p| ole.is_storage(&p))
    {
        read_rights_management_notice(format, &mut ole, budget, &mut out)
    } else {
        extract_content(format, &mut ole, budget, &mut out)
    };
    // Objects embedded in sub-storages (Word's ObjectPool, Excel's MBD*):
    // after the host's own text, and only if it was readable.
    let result = result.and_then(|()| extract_nested_objects(&mut ole, budget, &mut out));
    if let Err(e) = result {
        out.error = Some(e);
    }
    out
}

fn extract_content(
    format: Format,
    ole: &mut Ole<'_>,
    budget: &Budget,
    out: &mut Extracted,
) -> ExtractResult<()> {
    match format {
        Format::Doc => doc::extract(ole, budget, out),
        Format::Xls => xls::extract(ole, budget, out),
        Format::Ppt => ppt::extract(ole, budget, out),
        _ => extract_other(ole, budget, out),
    }
}

/// A rights-management (IRM) protected file keeps its content encrypted in
/// `\tDRMContent`; its ordinary streams hold a notice for readers without
/// the add-in (`Permission for this document is currently restricted ...`),
/// which Word, LibreOffice and POI show. That notice is read, as a PDF
/// wrapper's page is, and the file stays `encrypted`.
fn read_rights_management_notice(
    format: Format,
    ole: &mut Ole<'_>,
    budget: &Budget,
    out: &mut Extracted,
) -> ExtractResult<()> {
    match extract_content(format, ole, budget, out) {
        Err(e) if matches!(e.kind, ErrorKind::Timeout | ErrorKind::LimitExceeded) => Err(e),
        _ => Err(ExtractError::encrypted(
            "rights-management protected (DRM data space); only its notice was read",
        )),
    }
}

/// An encrypted OOXML package: read when it opens with the default
/// password (Office's "protected" files), else `encrypted`.
fn extract_encrypted_ooxml(
    ole: &mut Ole<'_>,
    budget: &Budget,
    out: &mut Extracted,
) -> ExtractResult<()> {
    let encrypted = || ExtractError::encrypted("OOXML package encrypted (EncryptedPackage stream)");
    let Some(info) = read_stream_opt(ole, "/EncryptionInfo", budget)? else {
        return Err(encrypted());
    };
    let Some(package) = read_stream_opt(ole, "/EncryptedPackage", budget)? else {
        return Err(encrypted());
    };
    let Some(plain) = agile::decrypt_default(&info, &package, budget)? else {
        return Err(encrypted());
    };
    drop(package);
    let format = super::sniff(&plain, "");
    if !matches!(
        format,
        Format::Docx | Format::Xlsx | Format::Pptx | Format::OoxmlOther
    ) {
        return Err(ExtractError::corrupt(
            "decrypted EncryptedPackage is no OOXML package",
        ));
    }
    out.parts_read.push("EncryptedPackage".into());
    let inner = super::ooxml::extract(format, &plain, budget);
    let error = inner.error.clone();
    out.parts.extend(inner.parts);
    out.properties.extend(inner.properties);
    out.label_info.extend(inner.label_info);
    out.parts_read.extend(
        inner
            .parts_read
            .into_iter()
            .map(|p| format!("EncryptedPackage {p}")),
    );
    error.map_or(Ok(()), Err)
}

/// Reads the property sets (`\005SummaryInformation`,
/// `\005DocumentSummaryInformation`) and any LabelInfo XML under
/// `\x06DataSpaces` of an opened OLE file. Usable for all OLE files.
pub fn read_ole_metadata(
    ole: &mut Ole<'_>,
    budget: &Budget,
    out: &mut Extracted,
) -> ExtractResult<()> {
    let summary = read_stream_opt(ole, "/\u{5}SummaryInformation", budget)?;
    let doc_summary = read_stream_opt(ole, "/\u{5}DocumentSummaryInformation", budget)?;
    propset::push_properties(out, summary.as_deref(), doc_summary.as_deref());
    if summary.is_some() {
        out.parts_read.push("\\005SummaryInformation".into());
    }
    if doc_summary.is_some() {
        out.parts_read
            .push("\\005DocumentSummaryInformation".into());
    }
    if ole.is_storage("/\u{6}DataSpaces") {
        let streams: Vec<(String, u64)> = ole
            .walk_storage("/\u{6}DataSpaces")
            .map(|w| {
                w.filter(|e| e.is_stream())
                    .map(|e| (e.path().to_string_lossy().into_owned(), e.len()))
                    .collect()
            })
            .unwrap_or_default();
        for (path, len) in streams {
            budget.check_time()?;
            if len > 4 * 1024 * 1024 {
                continue;
            }
            let Some(data) = read_stream_opt(ole, &path, budget)? else {
                continue;
            };
            let location = path.replace('\u{6}', "\\006");
            let found = parse_label_info(&data, &location);
            if !found.is_empty() {
                out.parts_read.push(location);
                out.label_info.extend(found);
            }
        }
    }
    Ok(())
}

/// Opens a compound file. Some writers leave the FAT listing more sectors
/// than the file holds (a short last allocation); cfb rejects that, so such
/// a file is retried padded with empty sectors, which changes no content.
/// One whose directory links name no entry is retried with those cut.
pub fn open_ole(bytes: &[u8]) -> std::io::Result<Ole<'_>> {
    use std::borrow::Cow;
    match cfb::CompoundFile::open(Cursor::new(Cow::Borrowed(bytes))) {
        Ok(ole) => Ok(ole),
        Err(err) if err.to_string().contains("Malformed directory") => {
            // A directory entry pointing past the directory (a fuzzed or
            // damaged sibling or child index): POI and LibreOffice ignore
            // such links; the file is retried with them cut.
            let Some(repaired) = cut_dangling_directory_links(bytes) else {
                return Err(err);
            };
            cfb::CompoundFile::open(Cursor::new(Cow::Owned(repaired)))
        }
        Err(err) => {
            let Some(entries) = fat_entries_claimed(&err.to_string()) else {
                return Err(err);
            };
            let sector = if bytes.get(30) == Some(&12) {
                4096
            } else {
                512
            };
            let wanted = (entries + 1).saturating_mul(sector);
            if wanted <= bytes.len() || wanted > bytes.len() + 64 * 1024 * 1024 {
                return Err(err);
            }
            let mut padded = bytes.to_vec();
            padded.resize(wanted, 0);
            cfb::CompoundFile::open(Cursor::new(Cow::Owned(padded)))
        }
    }
}

/// A copy of an OLE file whose directory entries' left, right and child
/// links that name no entry, or an unused one, are set to NOSTREAM; `None`
/// when there is none or the directory cannot be located. Only links are
/// changed: every stream keeps its bytes.
fn cut_dangling_directory_links(bytes: &[u8]) -> Option<Vec<u8>> {
    use bytes::le_u32;
    const NOSTREAM: u32 = 0xFFFF_FFFF;
    let shift = bytes::le_u16(bytes, 30)?;
    if shift != 9 && shift != 12 {
        return None;
    }
    let sector = 1usize << shift;
    let sector_at = |id: u32| -> Option<usize> {
        let at = (id as usize).checked_add(1)?.checked_mul(sector)?;
        (at.checked_add(sector)? <= bytes.len()).then_some(at)
    };
    // FAT sectors: 109 in the header, the rest in the DIFAT chain.
    let fat_count = le_u32(bytes, 44)? as usize;
    let mut fat_sectors: Vec<u32> = (0..109)
        .filter_map(|i| le_u32(bytes, 76 + i * 4))
        .take(fat_count)
        .collect();
    let mut difat = le_u32(bytes, 68)?;
    let mut hops = 0;
    while fat_sectors.len() < fat_count && difat < 0xFFFF_FFFA && hops < 4096 {
        let at = sector_at(difat)?;
        let per = sector / 4 - 1;
        for i in 0..per {
            if fat_sectors.len() < fat_count {
                fat_sectors.push(le_u32(bytes, at + i * 4)?);
            }
        }
        difat = le_u32(bytes, at + per * 4)?;
        hops += 1;
    }
    let next = |id: u32| -> Option<u32> {
        let per = sector / 4;
        let fat_sector = *fat_sectors.get(id as usize / per)?;
        le_u32(bytes, sector_at(fat_sector)? + (id as usize % per) * 4)
    };
    // The directory's sectors.
    let mut dir_sectors = Vec::new();
    let mut id = le_u32(bytes, 48)?;
    while id < 0xFFFF_FFFA {
        if dir_sectors.len() >= 65_536 || dir_sectors.contains(&id) {
            return None;
        }
        dir_sectors.push(id);
        id = next(id)?;
    }
    let entries: Vec<usize> = dir_sectors
        .iter()
        .filter_map(|&id| sector_at(id))
        .flat_map(|at| (0..sector / 128).map(move |k| at + k * 128))
        .collect();
    let used = |i: u32| {
        entries
            .get(i as usize)
            .is_some_and(|&at| matches!(bytes[at + 66], 1 | 2 | 5))
    };
    let mut copy = None::<Vec<u8>>;
    for &at in &entries {
        if !matches!(bytes[at + 66], 1 | 2 | 5) {
            continue;
        }
        for field in [68, 72, 76] {
            let link = le_u32(bytes, at + field)?;
            if link != NOSTREAM && !used(link) {
                let out = copy.get_or_insert_with(|| bytes.to_vec());
                out[at + field..at + field + 4].copy_from_slice(&NOSTREAM.to_le_bytes());
            }
        }
    }
    copy
}

/// N from cfb's "FAT has N entries, but file has only M sectors".
fn fat_entries_claimed(message: &str) -> Option<usize> {
    let rest = message.split("FAT has ").nth(1)?;
    if !rest.contains("but file has only") {
        return None;
    }
    rest.split_whitespace().next()?.parse().ok()
}

/// The stored path of an entry, compared case-insensitively as MS-CFB
/// 2.6.4 requires (some writers store `WORDDOCUMENT` or `encryptedpackage`).
pub fn find_entry<F: std::io::Read + std::io::Seek>(
    ole: &cfb::CompoundFile<F>,
    path: &str,
) -> Option<String> {
    if ole.exists(path) {
        return Some(path.to_string());
    }
    ole.walk()
        .map(|e| e.path().to_string_lossy().into_owned())
        .find(|p| p.eq_ignore_ascii_case(path))
}

/// Whether a stream exists, names compared case-insensitively.
pub fn has_stream<F: std::io::Read + std::io::Seek>(
    ole: &cfb::CompoundFile<F>,
    path: &str,
) -> bool {
    find_entry(ole, path).is_some_and(|p| ole.is_stream(&p))
}

/// Reads a whole stream, bounded by the part limit and charged to the budget.
/// `None` when there is no such stream.
fn read_stream_opt(
    ole: &mut Ole<'_>,
    path: &str,
    budget: &Budget,
) -> ExtractResult<Option<Vec<u8>>> {
    match find_entry(ole, path) {
        Some(stored) if ole.is_stream(&stored) => read_stream(ole, &stored, budget).map(Some),
        _ => Ok(None),
    }
}

/// `limit_exceeded` with `detail` when a part of `len` bytes is over the part limit.
fn within_part_limit(len: u64, budget: &Budget, detail: &str) -> ExtractResult<()> {
    if len > budget.limits.max_part_bytes {
        Err(ExtractError::limit(detail))
    } else {
        Ok(())
    }
}

fn read_stream(ole: &mut Ole<'_>, path: &str, budget: &Budget) -> ExtractResult<Vec<u8>> {
    let stored = find_entry(ole, path).unwrap_or_else(|| path.to_string());
    let mut stream = ole
        .open_stream(&stored)
        .map_err(|_| ExtractError::corrupt("OLE stream cannot be opened"))?;
    let len = stream.len();
    within_part_limit(len, budget, "an OLE stream's size exceeds the part limit")?;
    budget.charge_inflated(len)?;
    let mut data = Vec::with_capacity(len.min(8 * 1024 * 1024) as usize);
    (&mut stream)
        .take(len)
        .read_to_end(&mut data)
        .map_err(|_| ExtractError::corrupt("OLE stream truncated or its sector chain broken"))?;
    Ok(data)
}

/// Finds `<label .../>` elements of the MIP label metadata schema in `data`
/// (UTF-8 or UTF-16LE XML, possibly behind a binary header).
pub fn parse_label_info(data: &[u8], location: &str) -> Vec<LabelInfoEntry> {
    let text: String = if data.windows(4).any(|w| w == b"<\0l\0" || w == b"<\0c\0") {
        // UTF-16LE: find the first '<' on an even or odd boundary.
        let start = data.windows(2).position(|w| w == b"<\0").unwrap_or(0);
        propset::decode_utf16(&data[start..])
    } else {
        String::from_utf8_lossy(data).into_owned()
    };
    if !text.contains("mipLabelMetadata") && !text.contains("labelList") {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut rest = text.as_str();
    while let Some(lt) = rest.find('<') {
        rest = &rest[lt + 1..];
        let end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..end];
        rest = &rest[end..];
        let name_end = tag
            .find(|c: char| c.is_whitespace() || c == '/')
            .unwrap_or(tag.len());
        let name = &tag[..name_end];
        let local = name.rsplit(':').next().unwrap_or(name);
        if local != "label" {
            continue;
        }
        let attrs = &tag[name_end..];
        let get = |key: &str| attr_value(attrs, key).unwrap_or_default();
        let guid = |s: String| {
            s.trim()
                .trim_matches(|c| c == '{' || c == '}')
                .to_ascii_lowercase()
        };
        let boolean = |s: String| matches!(s.trim(), "1" | "true");
        out.push(LabelInfoEntry {
            id: guid(get("id")),
            site_id: guid(get("siteId")),
            enabled: boolean(get("enabled")),
            removed: boolean(get("removed")),
            method: get("method"),
            location: location.to_string(),
        });
    }
    out
}

fn attr_value(attrs: &str, key: &str) -> Option<String> {
    let mut rest = attrs;
    loop {
        let i = rest.find(key)?;
        let before_ok = i == 0 || rest[..i].ends_with(|c: char| c.is_whitespace());
        let after = rest[i + key.len()..].trim_start();
        if before_ok {
            if let Some(after) = after.strip_prefix('=') {
                let after = after.trim_start();
                let quote = after.chars().next()?;
                if quote == '"' || quote == '\'' {
                    let body = &after[1..];
                    let end = body.find(quote)?;
                    return Some(unescape(&body[..end]));
                }
            }
        }
        rest = &rest[i + key.len()..];
    }
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Other OLE files: embedded object payloads (`\x01Ole10Native`, `Package`,
/// `CONTENTS`) are sniffed and extracted; Outlook .msg subject and body are read.
fn extract_other(ole: &mut Ole<'_>, budget: &Budget, out: &mut Extracted) -> ExtractResult<()> {
    if let Some(native) = read_stream_opt(ole, "/\u{1}Ole10Native", budget)? {
        out.parts_read.push("\\001Ole10Native".into());
        if let Some((name, payload)) = ole10_native_payload(&native) {
            extract_embedded(payload, &name, "Ole10Native", budget, out)?;
        }
    }
    for (path, label) in [("/Package", "Package"), ("/CONTENTS", "CONTENTS")] {
        if let Some(data) = read_stream_opt(ole, path, budget)? {
            out.parts_read.push(label.into());
            extract_embedded(&data, "", label, budget, out)?;
        }
    }
    // Outlook .msg: subject and plain-text body as UTF-16 (001F) or 8-bit (001E).
    for (id, kind, location) in [
        ("0037", PartKind::Other, "msg subject"),
        ("1000", PartKind::Body, "msg body"),
    ] {
        for (suffix, wide) in [("001F", true), ("001E", false)] {
            let path = format!("/__substg1.0_{id}{suffix}");
            if let Some(data) = read_stream_opt(ole, &path, budget)? {
                let text = if wide {
                    propset::decode_utf16(&data)
                } else {
                    propset::decode_codepage(&data, 1252)
                };
                out.parts_read.push(path[1..].to_string());
                out.push_part(kind, location, text.replace("\r\n", "\n"));
                break;
            }
        }
    }
    Ok(())
}

/// Most embedded objects read from one OLE file.
const MAX_NESTED_OBJECTS: usize = 64;

/// Extracts `\x01Ole10Native`, `Package` and `CONTENTS` streams found in
/// sub-storages (embedded OLE objects) of any OLE document.
fn extract_nested_objects(
    ole: &mut Ole<'_>,
    budget: &Budget,
    out: &mut Extracted,
) -> ExtractResult<()> {
    let found: Vec<String> = ole
        .walk()
        .filter(|e| e.is_stream())
        .filter(|e| matches!(e.name(), "\u{1}Ole10Native" | "Package" | "CONTENTS"))
        .map(|e| e.path().to_string_lossy().into_owned())
        // Root-level ones belong to an OleOther file and were read already.
        .filter(|p| p.matches('/').count() > 1)
        .take(MAX_NESTED_OBJECTS)
        .collect();
    for path in found {
        budget.check_time()?;
        let Some(data) = read_stream_opt(ole, &path, budget)? else {
            continue;
        };
        let location = path.replace('\u{1}', "\\001");
        out.parts_read.push(location.clone());
        if path.ends_with("Ole10Native") {
            if let Some((name, payload)) = ole10_native_payload(&data) {
                extract_embedded(payload, &name, &location, budget, out)?;
            }
        } else {
            extract_embedded(&data, "", &location, budget, out)?;
        }
    }
    // Whole Office documents embedded as storages (`ObjectPool/_123` holding
    // a `WordDocument`, Excel's `MBD0001` holding a `Workbook`).
    let storages: Vec<String> = ole
        .walk()
        .filter(|e| e.is_stream())
        .filter(|e| {
            matches!(
                e.name(),
                "WordDocument" | "Workbook" | "Book" | "PowerPoint Document"
            )
        })
        .filter_map(|e| e.path().parent().map(|p| p.to_string_lossy().into_owned()))
        .filter(|p| p != "/")
        .take(MAX_NESTED_OBJECTS)
        .collect();
    for storage in storages {
        budget.check_time()?;
        let Some(copy) = storage_as_ole(ole, &storage, budget)? else {
            continue;
        };
        extract_embedded(&copy, "", &storage, budget, out)?;
    }
    Ok(())
}

/// Copies the streams under `storage` into a new in-memory OLE file.
fn storage_as_ole(
    ole: &mut Ole<'_>,
    storage: &str,
    budget: &Budget,
) -> ExtractResult<Option<Vec<u8>>> {
    let entries: Vec<(String, bool)> = match ole.walk_storage(storage) {
        Ok(w) => w
            .filter(|e| e.path() != std::path::Path::new(storage))
            .map(|e| (e.path().to_string_lossy().into_owned(), e.is_stream()))
            .collect(),
        Err(_) => return Ok(None),
    };
    let Ok(mut copy) = cfb::CompoundFile::create(Cursor::new(Vec::new())) else {
        return Ok(None);
    };
    for (path, is_stream) in entries {
        let Some(rel) = path.strip_prefix(storage) else {
            continue;
        };
        if !is_stream {
            if copy.create_storage_all(rel).is_err() {
                return Ok(None);
            }
            continue;
        }
        let data = read_stream(ole, &path, budget)?;
        let written = copy
            .create_stream(rel)
            .and_then(|mut s| std::io::Write::write_all(&mut s, &data));
        if written.is_err() {
            return Ok(None);
        }
    }
    if copy.flush().is_err() {
        return Ok(None);
    }
    Ok(Some(copy.into_inner().into_inner()))
}

/// Splits an `\x01Ole10Native` stream: u32 size, u16 flags, label (NUL
/// terminated), source path (NUL terminated), u32 unknown, u32 length +
/// temp path, u32 data size, data. Returns the label and the payload.
fn ole10_native_payload(s: &[u8]) -> Option<(String, &[u8])> {
    let cstr = |at: usize| -> Option<(&[u8], usize)> {
        let rest = s.get(at..)?;
        let n = rest.iter().position(|&b| b == 0)?;
        Some((&rest[..n], at + n + 1))
    };
    let (label, p) = cstr(6)?;
    let (_path, p) = cstr(p)?;
    let temp_len = bytes::le_u32(s, p + 4)? as usize;
    let p = p.checked_add(8)?.checked_add(temp_len)?;
    let size = bytes::le_u32(s, p)? as usize;
    let data = s.get(p + 4..(p + 4).checked_add(size)?)?;
    Some((propset::decode_codepage(label, 1252), data))
}

fn extract_embedded(
    payload: &[u8],
    name: &str,
    prefix: &str,
    budget: &Budget,
    out: &mut Extracted,
) -> ExtractResult<()> {
    let format = super::sniff(payload, name);
    if matches!(format, Format::Unsupported | Format::Zip) {
        return Ok(());
    }
    match super::embed(format, payload, prefix, budget, out) {
        Some(e) if matches!(e.kind, ErrorKind::Timeout | ErrorKind::LimitExceeded) => Err(e),
        _ => Ok(()),
    }
}

pub(crate) use super::decode::cp1252_char;

#[cfg(test)]
mod tests;
