//! Format detection by content (magic bytes, container layout), with the
//! file name's extension only as a tie-breaker or a fallback for files too
//! broken to recognise.

use std::io::Cursor;

pub use crate::model::Format;

const OLE_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Detects the format of `bytes`; `name` breaks ties and names broken files.
pub fn sniff(bytes: &[u8], name: &str) -> Format {
    let by_ext = Format::from_extension(name);
    if bytes.is_empty() {
        return match by_ext {
            Some(Format::Text) | Some(Format::Csv) | None => Format::Text,
            Some(f) => f,
        };
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        // A plain zip named like a package (an empty zip, or one without
        // its main part, named .docx) is a broken package: it gets a row as
        // such, not the no rows of an archive with no members.
        return match sniff_zip(bytes) {
            Some(Format::Zip) | None => match by_ext {
                Some(f) if is_zip_based(f) => f,
                _ => Format::Zip,
            },
            Some(f) => f,
        };
    }
    if bytes.starts_with(OLE_MAGIC) {
        return sniff_ole(bytes).unwrap_or(match by_ext {
            Some(f @ (Format::Doc | Format::Xls | Format::Ppt)) => f,
            _ => Format::OleOther,
        });
    }
    if memchr::memmem::find(&bytes[..bytes.len().min(1024)], b"%PDF-").is_some() {
        return Format::Pdf;
    }
    if bytes.starts_with(b"{\\rtf") {
        return Format::Rtf;
    }
    // Excel 2.x-4.0 worksheets and Word 1.x/2.0 documents are bare record
    // streams, not OLE files: their first record or FIB says so.
    if super::legacy::is_bare_biff(bytes) {
        return Format::Xls;
    }
    if super::legacy::is_word2(bytes) {
        return Format::Doc;
    }
    if looks_like_text(bytes) {
        return match by_ext {
            Some(Format::Csv) => Format::Csv,
            // A text file named .docx is a broken docx, not a text document;
            // one named .doc, .xls or .ppt is text, as Word and Excel open it
            // (text and tab-separated exports are often named so).
            Some(Format::Doc | Format::Xls | Format::Ppt) => Format::Text,
            Some(f) if f != Format::Text => f,
            _ => Format::Text,
        };
    }
    // WordPerfect 4.2 has no header: its function codes are checked only
    // in a file named like a word-processor document.
    let wp_name = matches!(by_ext, Some(Format::Doc))
        || name
            .rsplit_once('.')
            .is_some_and(|(_, e)| e.eq_ignore_ascii_case("wpd") || e.eq_ignore_ascii_case("wp"));
    if wp_name && super::wordperfect::looks_like_wp42(bytes) {
        return Format::WordPerfect;
    }
    by_ext.unwrap_or(Format::Unsupported)
}

fn is_zip_based(f: Format) -> bool {
    matches!(
        f,
        Format::Docx | Format::Xlsx | Format::Pptx | Format::Odt | Format::Ods | Format::Odp
    )
}

/// Tells OOXML and ODF packages from plain archives by their member names.
fn sniff_zip(bytes: &[u8]) -> Option<Format> {
    if let Some(f) = sniff_mimetype(bytes) {
        return Some(f);
    }
    let archive = zip::ZipArchive::new(Cursor::new(bytes)).ok()?;
    Some(zip_by_names(archive.file_names().filter_map(Result::ok)))
}

/// ODF stores an uncompressed `mimetype` member first (ODF 1.2 part 3, 3.3).
fn sniff_mimetype(bytes: &[u8]) -> Option<Format> {
    if bytes.len() <= 38 || &bytes[30..38] != b"mimetype" {
        return None;
    }
    let head = &bytes[38..bytes.len().min(38 + 80)];
    if head.starts_with(b"application/vnd.oasis.opendocument.text") {
        return Some(Format::Odt);
    }
    if head.starts_with(b"application/vnd.oasis.opendocument.spreadsheet") {
        return Some(Format::Ods);
    }
    if head.starts_with(b"application/vnd.oasis.opendocument.presentation") {
        return Some(Format::Odp);
    }
    None
}

/// A zip package's format as [`sniff`] tells it, of one opened on disk
/// (`head`: the file's first bytes).
pub fn sniff_package(pkg: &super::zipread::Package<'_>, head: &[u8], name: &str) -> Format {
    let by_ext = Format::from_extension(name);
    let found = match sniff_mimetype(head) {
        Some(f) => f,
        None => zip_by_names(pkg.entries().iter().map(|e| e.name.as_str())),
    };
    match found {
        Format::Zip => match by_ext {
            Some(f) if is_zip_based(f) => f,
            _ => Format::Zip,
        },
        f => f,
    }
}

/// The format the member names of a zip say.
fn zip_by_names<S: AsRef<str>>(names: impl Iterator<Item = S>) -> Format {
    let mut has_content_types = false;
    let mut odf_content = false;
    for name in names {
        // OPC part names are case-insensitive (ECMA-376 part 2, 6.2.2.3):
        // some writers store `[content_types].xml` or `XL/Workbook.xml`.
        match name.as_ref().to_ascii_lowercase().as_str() {
            "[content_types].xml" => has_content_types = true,
            "word/document.xml" => return Format::Docx,
            "xl/workbook.xml" => return Format::Xlsx,
            "ppt/presentation.xml" => return Format::Pptx,
            "content.xml" => odf_content = true,
            _ => {}
        }
    }
    if has_content_types {
        // Main parts may live under other names; the OOXML extractor follows
        // the package relationships to find them.
        return Format::OoxmlOther;
    }
    if odf_content {
        return Format::Odt;
    }
    Format::Zip
}

/// Tells Word, Excel, PowerPoint and encrypted OOXML apart by their streams.
fn sniff_ole(bytes: &[u8]) -> Option<Format> {
    let file = super::legacy::open_ole(bytes).ok()?;
    let has = |name: &str| super::legacy::has_stream(&file, name);
    if has("/EncryptedPackage") {
        return Some(Format::EncryptedOoxml);
    }
    if has("/WordDocument") {
        return Some(Format::Doc);
    }
    if has("/Workbook") || has("/Book") {
        return Some(Format::Xls);
    }
    if has("/PowerPoint Document") || has("/PP40") {
        return Some(Format::Ppt);
    }
    Some(Format::OleOther)
}

/// Text if it has a UTF-16 BOM, or its head has no NUL byte and few control characters.
fn looks_like_text(bytes: &[u8]) -> bool {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return true;
    }
    let head = &bytes[..bytes.len().min(8192)];
    if head.contains(&0) {
        return false;
    }
    let controls = head
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0C))
        .count();
    controls * 100 <= head.len()
}

/// A short, content-free reason for skipping a file.
pub fn describe_unsupported(bytes: &[u8], name: &str) -> String {
    let kind = match bytes {
        [0x89, b'P', b'N', b'G', ..] => "image/png",
        [0xFF, 0xD8, 0xFF, ..] => "image/jpeg",
        [b'G', b'I', b'F', b'8', ..] => "image/gif",
        [0x7F, b'E', b'L', b'F', ..] => "executable/elf",
        [b'M', b'Z', ..] => "executable/pe",
        [0x1F, 0x8B, ..] => "archive/gzip",
        [b'R', b'a', b'r', b'!', ..] => "archive/rar",
        [b'7', b'z', 0xBC, 0xAF, ..] => "archive/7z",
        _ => "",
    };
    if !kind.is_empty() {
        return kind.to_string();
    }
    match name.rsplit_once('.') {
        Some((_, ext)) if ext.len() <= 8 => format!("binary/.{}", ext.to_ascii_lowercase()),
        _ => "binary".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_files_keep_their_claimed_format() {
        assert_eq!(sniff(b"", "a.docx"), Format::Docx);
        assert_eq!(sniff(b"garbage text", "a.pdf"), Format::Pdf);
        assert_eq!(sniff(b"PK\x03\x04truncated", "a.xlsx"), Format::Xlsx);
        assert_eq!(sniff(&[0u8, 1, 2, 3, 0, 9], "a.bin"), Format::Unsupported);
    }

    #[test]
    fn content_beats_extension() {
        assert_eq!(sniff(b"%PDF-1.7\n...", "report.txt"), Format::Pdf);
        assert_eq!(sniff(b"{\\rtf1 hello}", "x.doc"), Format::Rtf);
        assert_eq!(sniff(b"a,b\n1,2\n", "x.csv"), Format::Csv);
        assert_eq!(sniff(b"hello", "README"), Format::Text);
        // Issue 17: plain text named like a binary Office file is text.
        assert_eq!(
            sniff(b"Dear customer,\r\nplain text", "letter.doc"),
            Format::Text
        );
        assert_eq!(sniff(b"a\tb\n1\t2\n", "export.xls"), Format::Text);
    }

    /// Issue 17 defect 9: Excel 2.x-4.0 worksheets and Word 1.x/2.0
    /// documents are no OLE files; their first record or FIB decides.
    #[test]
    fn bare_biff_and_word_2_by_content() {
        // BOF (BIFF4, worksheet), then an EOF record.
        let biff4 = [9, 4, 6, 0, 0, 0, 0x10, 0, 0, 0, 0x0A, 0, 0, 0];
        assert_eq!(sniff(&biff4, "old.xls"), Format::Xls);
        assert_eq!(sniff(&biff4, "old.dat"), Format::Xls);
        let mut word2 = vec![0u8; 0x80];
        word2[..4].copy_from_slice(&[0xDB, 0xA5, 0x2D, 0]);
        word2[24..28].copy_from_slice(&0x40u32.to_le_bytes());
        word2[28..32].copy_from_slice(&0x50u32.to_le_bytes());
        assert_eq!(sniff(&word2, "letter.doc"), Format::Doc);
        // Text past the file's end: not Word 2.
        word2[28..32].copy_from_slice(&0x500u32.to_le_bytes());
        assert_eq!(sniff(&word2, "x.bin"), Format::Unsupported);
    }
}
