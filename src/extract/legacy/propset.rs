//! A small reader of OLE property sets (MS-OLEPS): `\005SummaryInformation`
//! and `\005DocumentSummaryInformation`, including the second section of
//! the latter, the User Defined property set that carries custom properties
//! such as `MSIP_Label_<guid>_Name` or `Classification`.
//!
//! Every offset and length read from the stream is bounds-checked; a broken
//! property is skipped, never trusted.

use super::bytes::{le_u16, le_u32, le_u64};
use crate::extract::Extracted;

/// FMTID_SummaryInformation {F29F85E0-4FF9-1068-AB91-08002B27B3D9}, as stored.
const FMTID_SUMMARY: [u8; 16] = [
    0xE0, 0x85, 0x9F, 0xF2, 0xF9, 0x4F, 0x68, 0x10, 0xAB, 0x91, 0x08, 0x00, 0x2B, 0x27, 0xB3, 0xD9,
];
/// FMTID_DocSummaryInformation {D5CDD502-2E9C-101B-9397-08002B2CF9AE}.
const FMTID_DOC_SUMMARY: [u8; 16] = [
    0x02, 0xD5, 0xCD, 0xD5, 0x9C, 0x2E, 0x1B, 0x10, 0x93, 0x97, 0x08, 0x00, 0x2B, 0x2C, 0xF9, 0xAE,
];
/// FMTID_UserDefinedProperties {D5CDD505-2E9C-101B-9397-08002B2CF9AE}.
const FMTID_USER_DEFINED: [u8; 16] = [
    0x05, 0xD5, 0xCD, 0xD5, 0x9C, 0x2E, 0x1B, 0x10, 0x93, 0x97, 0x08, 0x00, 0x2B, 0x2C, 0xF9, 0xAE,
];

/// Most properties read from one section: a hostile count cannot make us loop long.
const MAX_PROPERTIES: usize = 4096;
/// Longest string value kept.
const MAX_STRING: usize = 64 * 1024;
/// Most vector elements rendered.
const MAX_VECTOR: usize = 256;

/// One property read from a property set stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OleProperty {
    pub name: String,
    pub value: String,
}

/// Reads the properties of a property set stream (`\005SummaryInformation`,
/// `\005DocumentSummaryInformation` or any other): well-known properties get
/// their usual names (`Title`, `Author`, `Company` ...), user-defined ones
/// their dictionary names. Values are rendered as text. Returns nothing
/// for a stream that is not a property set.
pub fn read_property_set(stream: &[u8]) -> Vec<OleProperty> {
    let mut out = Vec::new();
    if stream.len() < 28 || le_u16(stream, 0) != Some(0xFFFE) {
        return out;
    }
    let Some(count) = le_u32(stream, 24) else {
        return out;
    };
    for i in 0..(count as usize).min(16) {
        let entry = 28 + i * 20;
        let Some(fmtid) = stream.get(entry..entry + 16) else {
            break;
        };
        let Some(offset) = le_u32(stream, entry + 16) else {
            break;
        };
        let Some(section) = stream.get(offset as usize..) else {
            continue;
        };
        let kind = if fmtid == FMTID_SUMMARY {
            SectionKind::Summary
        } else if fmtid == FMTID_DOC_SUMMARY {
            SectionKind::DocSummary
        } else if fmtid == FMTID_USER_DEFINED {
            SectionKind::UserDefined
        } else {
            SectionKind::Other
        };
        read_section(section, kind, &mut out);
    }
    out
}

/// Reads both summary streams of an OLE file into `out.properties`, with
/// location `SummaryInformation` / `DocumentSummaryInformation`.
pub fn push_properties(out: &mut Extracted, summary: Option<&[u8]>, doc_summary: Option<&[u8]>) {
    for (stream, location) in [
        (summary, "SummaryInformation"),
        (doc_summary, "DocumentSummaryInformation"),
    ] {
        if let Some(stream) = stream {
            for p in read_property_set(stream) {
                out.push_property(p.name, p.value, location);
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SectionKind {
    Summary,
    DocSummary,
    UserDefined,
    Other,
}

fn read_section(section: &[u8], kind: SectionKind, out: &mut Vec<OleProperty>) {
    let Some(size) = le_u32(section, 0) else {
        return;
    };
    let section = &section[..(size as usize).min(section.len())];
    let Some(n) = le_u32(section, 4) else { return };
    let n = (n as usize).min(MAX_PROPERTIES);
    let mut ids = Vec::with_capacity(n.min(section.len() / 8));
    for i in 0..n {
        let (Some(id), Some(off)) = (le_u32(section, 8 + i * 8), le_u32(section, 12 + i * 8))
        else {
            break;
        };
        ids.push((id, off as usize));
    }
    // The code page (PID 1) decides how 8-bit strings and dictionary names read.
    let mut codepage: u16 = 1252;
    for &(id, off) in &ids {
        if id == 1 && le_u16(section, off) == Some(2) {
            if let Some(cp) = le_u16(section, off + 4) {
                codepage = cp;
            }
        }
    }
    let mut dictionary: Vec<(u32, String)> = Vec::new();
    for &(id, off) in &ids {
        if id == 0 {
            dictionary = read_dictionary(section, off, codepage);
        }
    }
    for &(id, off) in &ids {
        if id == 0 || id == 1 || id >= 0x8000_0000 {
            continue;
        }
        let Some(value) = read_value(section, off, codepage, 0) else {
            continue;
        };
        let name = match dictionary.iter().find(|(d, _)| *d == id) {
            Some((_, name)) => name.clone(),
            None => match well_known_name(kind, id) {
                Some(name) => name.to_string(),
                None => format!("property {id}"),
            },
        };
        out.push(OleProperty { name, value });
    }
}

fn read_dictionary(section: &[u8], off: usize, codepage: u16) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let Some(n) = le_u32(section, off) else {
        return out;
    };
    let mut pos = off + 4;
    for _ in 0..(n as usize).min(MAX_PROPERTIES) {
        let (Some(id), Some(len)) = (le_u32(section, pos), le_u32(section, pos + 4)) else {
            break;
        };
        pos += 8;
        let len = len as usize;
        if codepage == 1200 {
            let Some(raw) = len.checked_mul(2).and_then(|b| section.get(pos..pos + b)) else {
                break;
            };
            out.push((id, decode_utf16(raw)));
            pos += len * 2;
            pos = (pos + 3) & !3;
        } else {
            let Some(raw) = section.get(pos..pos.saturating_add(len)) else {
                break;
            };
            out.push((id, decode_codepage(raw, codepage)));
            pos += len;
        }
    }
    out
}

/// Renders the typed value at `off` (MS-OLEPS 2.15 TypedPropertyValue) as text.
fn read_value(section: &[u8], off: usize, codepage: u16, depth: u8) -> Option<String> {
    let vt = le_u16(section, off)?;
    let data = off + 4;
    if vt & 0x1000 != 0 {
        if depth > 0 {
            return None;
        }
        return read_vector(section, data, vt & 0x0FFF, codepage).map(|(s, _)| s);
    }
    read_scalar(section, data, vt, codepage).map(|(s, _)| s)
}

/// Reads one scalar of type `vt` at `pos`; returns the text and the number of
/// bytes it took (padded to 4).
fn read_scalar(section: &[u8], pos: usize, vt: u16, codepage: u16) -> Option<(String, usize)> {
    let pad4 = |n: usize| (n + 3) & !3;
    Some(match vt {
        0x02 => ((le_u16(section, pos)? as i16).to_string(), 4),
        0x12 => (le_u16(section, pos)?.to_string(), 4),
        0x03 | 0x16 => ((le_u32(section, pos)? as i32).to_string(), 4),
        0x13 | 0x17 => (le_u32(section, pos)?.to_string(), 4),
        0x0A => (format!("error 0x{:08x}", le_u32(section, pos)?), 4),
        0x10 => ((*section.get(pos)? as i8).to_string(), 4),
        0x11 => (section.get(pos)?.to_string(), 4),
        0x14 => ((le_u64(section, pos)? as i64).to_string(), 8),
        0x15 => (le_u64(section, pos)?.to_string(), 8),
        0x04 => (f32::from_bits(le_u32(section, pos)?).to_string(), 4),
        0x05 => (f64::from_bits(le_u64(section, pos)?).to_string(), 8),
        0x06 => {
            let v = le_u64(section, pos)? as i64;
            (format!("{}", v as f64 / 10_000.0), 8)
        }
        0x07 => (ole_date(f64::from_bits(le_u64(section, pos)?)), 8),
        0x0B => {
            let v = le_u16(section, pos)?;
            ((if v == 0 { "false" } else { "true" }).to_string(), 4)
        }
        0x40 => (filetime(le_u64(section, pos)?), 8),
        0x1E | 0x08 => {
            let len = le_u32(section, pos)? as usize;
            let raw = section.get(pos + 4..(pos + 4).checked_add(len)?)?;
            let text = if codepage == 1200 {
                decode_utf16(raw)
            } else {
                decode_codepage(raw, codepage)
            };
            (text, 4 + pad4(len))
        }
        0x1F => {
            let chars = le_u32(section, pos)? as usize;
            let bytes = chars.checked_mul(2)?;
            let raw = section.get(pos + 4..(pos + 4).checked_add(bytes)?)?;
            (decode_utf16(raw), 4 + pad4(bytes))
        }
        0x48 => {
            // VT_CLSID
            let raw = section.get(pos..pos + 16)?;
            (guid_string(raw), 16)
        }
        0x0C => {
            // VT_VARIANT: a nested typed value.
            let inner = le_u16(section, pos)?;
            if inner & 0x1000 != 0 || inner == 0x0C {
                return None;
            }
            let (s, n) = read_scalar(section, pos + 4, inner, codepage)?;
            (s, 4 + n)
        }
        0x00 | 0x01 => (String::new(), 0),
        _ => return None,
    })
}

fn read_vector(section: &[u8], pos: usize, vt: u16, codepage: u16) -> Option<(String, usize)> {
    let n = le_u32(section, pos)? as usize;
    let mut items = Vec::new();
    let mut p = pos + 4;
    for _ in 0..n.min(MAX_VECTOR) {
        let (s, used) = read_scalar(section, p, vt, codepage)?;
        if used == 0 {
            break;
        }
        p += used;
        if !s.is_empty() {
            items.push(s);
        }
    }
    Some((items.join("; "), p - pos))
}

fn well_known_name(kind: SectionKind, id: u32) -> Option<&'static str> {
    Some(match kind {
        SectionKind::Summary => match id {
            2 => "Title",
            3 => "Subject",
            4 => "Author",
            5 => "Keywords",
            6 => "Comments",
            7 => "Template",
            8 => "LastAuthor",
            9 => "RevisionNumber",
            0x0A => "EditTime",
            0x0B => "LastPrinted",
            0x0C => "Created",
            0x0D => "LastSaved",
            0x0E => "PageCount",
            0x0F => "WordCount",
            0x10 => "CharCount",
            0x12 => "AppName",
            0x13 => "Security",
            _ => return None,
        },
        SectionKind::DocSummary => match id {
            2 => "Category",
            3 => "PresentationFormat",
            4 => "ByteCount",
            5 => "LineCount",
            6 => "ParagraphCount",
            7 => "SlideCount",
            8 => "NoteCount",
            9 => "HiddenSlideCount",
            0x0A => "MMClipCount",
            0x0B => "ScaleCrop",
            0x0C => "HeadingPairs",
            0x0D => "TitlesOfParts",
            0x0E => "Manager",
            0x0F => "Company",
            0x10 => "LinksUpToDate",
            0x11 => "CharCountWithSpaces",
            0x13 => "SharedDoc",
            0x16 => "HyperlinksChanged",
            0x17 => "AppVersion",
            0x1A => "ContentType",
            0x1B => "ContentStatus",
            0x1C => "Language",
            0x1D => "DocVersion",
            _ => return None,
        },
        SectionKind::UserDefined | SectionKind::Other => return None,
    })
}

/// Decodes 8-bit text in a Windows code page; strips trailing NULs.
pub fn decode_codepage(raw: &[u8], codepage: u16) -> String {
    crate::extract::decode::codepage(trim_nul(raw), codepage)
}

fn trim_nul(raw: &[u8]) -> &[u8] {
    let raw = &raw[..raw.len().min(MAX_STRING)];
    match raw.iter().position(|&b| b == 0) {
        Some(i) => &raw[..i],
        None => raw,
    }
}

/// Decodes UTF-16LE up to the first NUL.
pub fn decode_utf16(raw: &[u8]) -> String {
    let raw = &raw[..raw.len().min(2 * MAX_STRING)];
    let end = raw
        .chunks_exact(2)
        .position(|c| c == [0, 0])
        .map_or(raw.len(), |i| 2 * i);
    crate::extract::decode::utf16le(&raw[..end])
}

fn guid_string(raw: &[u8]) -> String {
    if raw.len() < 16 {
        return String::new();
    }
    format!(
        "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]),
        u16::from_le_bytes([raw[4], raw[5]]),
        u16::from_le_bytes([raw[6], raw[7]]),
        raw[8],
        raw[9],
        raw[10],
        raw[11],
        raw[12],
        raw[13],
        raw[14],
        raw[15]
    )
}

/// FILETIME (100 ns ticks since 1601) as an ISO-8601 UTC timestamp. Small
/// values are durations (EditTime) and are rendered as seconds.
fn filetime(ticks: u64) -> String {
    const UNIX_EPOCH_TICKS: u64 = 116_444_736_000_000_000;
    if ticks == 0 {
        return String::new();
    }
    if ticks < UNIX_EPOCH_TICKS / 4 {
        return format!("{}s", ticks / 10_000_000);
    }
    let secs = (ticks as i128 - UNIX_EPOCH_TICKS as i128) / 10_000_000;
    match chrono::DateTime::from_timestamp(secs as i64, 0) {
        Some(dt) => dt.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => String::new(),
    }
}

/// OLE automation date (days since 1899-12-30) as an ISO-8601 timestamp.
fn ole_date(days: f64) -> String {
    if !days.is_finite() || days.abs() > 3_000_000.0 {
        return String::new();
    }
    let secs = ((days - 25569.0) * 86400.0).round() as i64;
    match chrono::DateTime::from_timestamp(secs, 0) {
        Some(dt) => dt.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => String::new(),
    }
}

/// Builds property set streams for tests (here and in the sibling modules).
#[cfg(test)]
pub(crate) mod build {
    use super::*;

    pub enum Val<'a> {
        Lpstr(&'a str),
        Lpwstr(&'a str),
        I4(i32),
        Bool(bool),
        Filetime(u64),
    }

    fn encode(v: &Val) -> Vec<u8> {
        let mut b = Vec::new();
        match v {
            Val::Lpstr(s) => {
                b.extend_from_slice(&0x1Eu32.to_le_bytes());
                let mut raw = s.as_bytes().to_vec();
                raw.push(0);
                b.extend_from_slice(&(raw.len() as u32).to_le_bytes());
                b.extend_from_slice(&raw);
            }
            Val::Lpwstr(s) => {
                b.extend_from_slice(&0x1Fu32.to_le_bytes());
                let units: Vec<u16> = s.encode_utf16().chain([0]).collect();
                b.extend_from_slice(&(units.len() as u32).to_le_bytes());
                for u in units {
                    b.extend_from_slice(&u.to_le_bytes());
                }
            }
            Val::I4(i) => {
                b.extend_from_slice(&3u32.to_le_bytes());
                b.extend_from_slice(&i.to_le_bytes());
            }
            Val::Bool(x) => {
                b.extend_from_slice(&0x0Bu32.to_le_bytes());
                b.extend_from_slice(&(if *x { 0xFFFFu32 } else { 0 }).to_le_bytes());
            }
            Val::Filetime(t) => {
                b.extend_from_slice(&0x40u32.to_le_bytes());
                b.extend_from_slice(&t.to_le_bytes());
            }
        }
        while !b.len().is_multiple_of(4) {
            b.push(0);
        }
        b
    }

    /// One section: (pid, value) pairs plus an optional dictionary.
    pub fn section(codepage: u16, props: &[(u32, Val)], dict: &[(u32, &str)]) -> Vec<u8> {
        let mut values: Vec<(u32, Vec<u8>)> = Vec::new();
        let mut cp = 2u32.to_le_bytes().to_vec();
        cp.extend_from_slice(&(codepage as u32).to_le_bytes());
        values.push((1, cp));
        if !dict.is_empty() {
            let mut d = (dict.len() as u32).to_le_bytes().to_vec();
            for (id, name) in dict {
                d.extend_from_slice(&id.to_le_bytes());
                if codepage == 1200 {
                    let units: Vec<u16> = name.encode_utf16().chain([0]).collect();
                    d.extend_from_slice(&(units.len() as u32).to_le_bytes());
                    for u in units {
                        d.extend_from_slice(&u.to_le_bytes());
                    }
                    while !d.len().is_multiple_of(4) {
                        d.push(0);
                    }
                } else {
                    d.extend_from_slice(&(name.len() as u32 + 1).to_le_bytes());
                    d.extend_from_slice(name.as_bytes());
                    d.push(0);
                }
            }
            while !d.len().is_multiple_of(4) {
                d.push(0);
            }
            values.push((0, d));
        }
        for (id, v) in props {
            values.push((*id, encode(v)));
        }
        let header = 8 + values.len() * 8;
        let mut table = Vec::new();
        let mut body = Vec::new();
        for (id, v) in &values {
            table.extend_from_slice(&id.to_le_bytes());
            table.extend_from_slice(&((header + body.len()) as u32).to_le_bytes());
            body.extend_from_slice(v);
        }
        let mut s = ((header + body.len()) as u32).to_le_bytes().to_vec();
        s.extend_from_slice(&(values.len() as u32).to_le_bytes());
        s.extend_from_slice(&table);
        s.extend_from_slice(&body);
        s
    }

    /// A property set stream holding `sections` (fmtid, bytes).
    pub fn stream(sections: &[([u8; 16], Vec<u8>)]) -> Vec<u8> {
        let mut s = vec![0xFE, 0xFF, 0, 0, 0x06, 0x01, 0x02, 0x00];
        s.extend_from_slice(&[0u8; 16]);
        s.extend_from_slice(&(sections.len() as u32).to_le_bytes());
        let mut offset = 28 + sections.len() * 20;
        for (fmtid, body) in sections {
            s.extend_from_slice(fmtid);
            s.extend_from_slice(&(offset as u32).to_le_bytes());
            offset += body.len();
        }
        for (_, body) in sections {
            s.extend_from_slice(body);
        }
        s
    }

    pub fn doc_summary(user: &[(u32, Val)], dict: &[(u32, &str)], codepage: u16) -> Vec<u8> {
        stream(&[
            (
                FMTID_DOC_SUMMARY,
                section(1252, &[(0x0F, Val::Lpstr("Precision Systems Ltd"))], &[]),
            ),
            (FMTID_USER_DEFINED, section(codepage, user, dict)),
        ])
    }

    pub fn summary(props: &[(u32, Val)]) -> Vec<u8> {
        stream(&[(FMTID_SUMMARY, section(1252, props, &[]))])
    }
}

#[cfg(test)]
mod tests {
    use super::build::*;
    use super::*;

    fn get<'a>(props: &'a [OleProperty], name: &str) -> Option<&'a str> {
        props
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.as_str())
    }

    #[test]
    fn reads_user_defined_section_with_ansi_dictionary() {
        let guid = "MSIP_Label_d0cb1e24-a0e2-4a4c-9340-733297c9cd7c";
        let name_key = format!("{guid}_Name");
        let enabled_key = format!("{guid}_Enabled");
        let s = doc_summary(
            &[
                (2, Val::Lpstr("Confidential")),
                (3, Val::Lpstr("true")),
                (4, Val::Lpwstr("Precision Systems")),
                (5, Val::I4(-42)),
                (6, Val::Bool(true)),
                (7, Val::Filetime(132_000_000_000_000_000)),
            ],
            &[
                (2, &name_key),
                (3, &enabled_key),
                (4, "ReleasedTo"),
                (5, "Number"),
                (6, "Flag"),
                (7, "When"),
            ],
            1252,
        );
        let props = read_property_set(&s);
        assert_eq!(get(&props, "Company"), Some("Precision Systems Ltd"));
        assert_eq!(get(&props, &name_key), Some("Confidential"));
        assert_eq!(get(&props, &enabled_key), Some("true"));
        assert_eq!(get(&props, "ReleasedTo"), Some("Precision Systems"));
        assert_eq!(get(&props, "Number"), Some("-42"));
        assert_eq!(get(&props, "Flag"), Some("true"));
        assert_eq!(get(&props, "When"), Some("2019-04-17T18:40:00Z"));
    }

    #[test]
    fn reads_unicode_dictionary_and_summary_names() {
        let s = doc_summary(
            &[(2, Val::Lpwstr("SECRET"))],
            &[(2, "Classification")],
            1200,
        );
        let props = read_property_set(&s);
        assert_eq!(get(&props, "Classification"), Some("SECRET"));

        let s = summary(&[(2, Val::Lpstr("Quarterly")), (4, Val::Lpstr("Ann"))]);
        let props = read_property_set(&s);
        assert_eq!(get(&props, "Title"), Some("Quarterly"));
        assert_eq!(get(&props, "Author"), Some("Ann"));
    }

    #[test]
    fn hostile_offsets_and_counts_do_not_panic() {
        let good = doc_summary(&[(2, Val::Lpstr("x"))], &[(2, "Name")], 1252);
        for cut in 0..good.len() {
            let _ = read_property_set(&good[..cut]);
        }
        let mut bad = good.clone();
        for i in (28..bad.len()).step_by(3) {
            bad[i] = 0xFF;
            let _ = read_property_set(&bad);
        }
        assert!(read_property_set(b"not a property set at all....").is_empty());
    }
}
